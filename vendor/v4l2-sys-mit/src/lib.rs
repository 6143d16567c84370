//! Raw V4L2 bindings (`linux/videodev2.h`), generated once by bindgen and checked in.
//! See VENDORED.md for why and how to regenerate them.
#![allow(clippy::all)]
#![allow(deref_nullptr)]
#![allow(non_camel_case_types)]
#![allow(non_snake_case)]
#![allow(non_upper_case_globals)]

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
include!("bindings/x86_64_linux.rs");

#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
include!("bindings/aarch64_linux.rs");

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
compile_error!(
    "v4l2-sys-mit (vendored) has bindings for x86_64 and aarch64 Linux only: generate \
     src/bindings/<arch>_linux.rs as vendor/v4l2-sys-mit/VENDORED.md says"
);
