#!/usr/bin/env bash
# Builds the installable packages: a Debian package and a release tarball (x86-64 Linux).
#
# The binary has the webcam (in every build) and OpenH264's x86-64 assembly, which needs
# nasm at build time only, installed here when missing. The README's commands do not.
# Completions and the man page come from the built binary's hidden `completions` and `man`
# subcommands (generated from the clap definitions, no build script).
#
# Output: dist/twitchwatch_VERSION_amd64.deb and dist/twitchwatch-VERSION-x86_64-linux.tar.gz.
# The build has a target folder of its own (TARGET/package): OpenH264's build script decides
# on nasm once, so it must not share artifacts with the plain build.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
[ "$(uname -sm)" = "Linux x86_64" ] || { echo "package.sh: builds for x86-64 Linux only" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
need=()
command -v nasm >/dev/null || need+=(nasm)
if [ ${#need[@]} -gt 0 ]; then
    echo "package.sh: installing ${need[*]} (build-time only)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

target="${CARGO_TARGET_DIR:-$repo/target}/package"
CARGO_TARGET_DIR="$target" cargo build --release --locked
bin="$target/release/twitchwatch"
version=$("$bin" --version | awk '{print $2}')

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# One tree laid out as under /usr; the .deb installs it there, the tarball under any prefix.
root="$stage/root"
doc="$root/share/doc/twitchwatch"
install -Dm755 "$bin" "$root/bin/twitchwatch"
strip --strip-debug "$root/bin/twitchwatch"
install -d "$root/share/bash-completion/completions" "$root/share/zsh/vendor-completions" \
    "$root/share/fish/vendor_completions.d" "$root/share/man/man1" "$doc/licenses" "$doc/examples"
"$bin" completions bash > "$root/share/bash-completion/completions/twitchwatch"
"$bin" completions zsh > "$root/share/zsh/vendor-completions/_twitchwatch"
"$bin" completions fish > "$root/share/fish/vendor_completions.d/twitchwatch.fish"
"$bin" man | gzip -9n > "$root/share/man/man1/twitchwatch.1.gz"
install -m644 LICENSE-MIT LICENSE-APACHE packaging/NOTICES.md packaging/H264-PATENTS.md "$doc/"
install -m644 packaging/licenses/* "$doc/licenses/"
install -m644 vendor/rustface/LICENSE "$doc/licenses/rustface-BSD-2-Clause.txt"
install -m644 docs/packages.md docs/archives.md "$doc/"
# A sample to try the install on, and the archive workflow.
install -m644 sample_videos/clonic_left.mp4 sample_videos/clonic_left.labels.json "$doc/examples/"
install -d "$doc/examples/workflow"
cp -r workflow/. "$doc/examples/workflow/"
find "$root" -type d -exec chmod 755 {} + ; find "$root" -type f ! -path '*/bin/*' -exec chmod 644 {} +

mkdir -p dist
# The tarball: twitchwatch-VERSION-x86_64-linux/{bin,share}, for any prefix.
tarname="twitchwatch-$version-x86_64-linux"
cp -a "$root" "$stage/$tarname"
tar -C "$stage" --owner=0 --group=0 --sort=name -czf "dist/$tarname.tar.gz" "$tarname"

# The Debian package: the tree under /usr, Debian's copyright file, dependencies of the binary.
deb="$stage/deb"
mkdir -p "$deb/DEBIAN"
cp -a "$root" "$deb/usr"
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: twitchwatch"
    echo
    echo "Files: *"
    echo "Copyright: The twitchwatch authors"
    echo "License: MIT or Apache-2.0"
    echo " See /usr/share/doc/twitchwatch/LICENSE-MIT and LICENSE-APACHE; third-party"
    echo " components (OpenH264, rustface, DejaVu fonts, Rust crates) in NOTICES.md and"
    echo " licenses/; H.264 patents in H264-PATENTS.md."
} > "$deb/usr/share/doc/twitchwatch/copyright"
# The newest glibc symbol version the binary needs.
glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
size=$(du -sk "$deb/usr" | cut -f1)
cat > "$deb/DEBIAN/control" <<CONTROL
Package: twitchwatch
Version: $version
Architecture: amd64
Maintainer: twitchwatch authors <maintainers@twitchwatch.invalid>
Installed-Size: $size
Depends: libc6 (>= $glibc), libgcc-s1, libstdc++6
Recommends: ffmpeg
Suggests: libx11-6, libxcursor1
Section: science
Priority: optional
Description: logs one-sided facial twitches (hemifacial spasm)
 twitchwatch watches a face through a webcam or in a recorded clip and logs the
 twitches of hemifacial spasm: when, which side, how long, how strong. It writes
 event logs (JSON Lines), therapist reports and before/after comparisons. No
 network, no video stored unless asked, logs readable by their owner only.
 .
 Built with the webcam (V4L2) and OpenH264's assembly; other formats than
 H.264 MP4/MOV and Y4M need ffmpeg. See /usr/share/doc/twitchwatch/H264-PATENTS.md.
CONTROL
dpkg-deb --root-owner-group -Zxz --build "$deb" "dist/twitchwatch_${version}_amd64.deb" >/dev/null
ls -l dist/
