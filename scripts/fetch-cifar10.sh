#!/bin/sh
# Puts the CIFAR-10 binary files where the trainers look for them, as
# torchvision's and Keras's download=True do (scripts/setup-debian.sh --data
# runs it; it also works alone):
#   scripts/fetch-cifar10.sh                 download into data/cifar-10-batches-bin (under the repository)
#   scripts/fetch-cifar10.sh --archive FILE  unpack a cifar-10-binary.tar.gz downloaded elsewhere
#   options: --url URL (default the official one), --dest DIR (default data/ under the repository;
#            the folder made is DIR/cifar-10-batches-bin)
# - NIBBLE_DATA set: only checks that folder holds the six files
#   (data_batch_1.bin ... data_batch_5.bin, test_batch.bin, 30,730,000 bytes each),
#   and says what is missing;
# - DIR/cifar-10-batches-bin already complete: says so, does nothing;
# - else downloads (curl, or wget) or takes --archive, checks the published MD5,
#   unpacks into a temporary folder beside DIR/cifar-10-batches-bin, checks the six
#   files, and only then renames it into place (an incomplete folder already
#   there is moved aside, not deleted). A failed download, a wrong MD5 or an
#   archive that does not unpack leaves nothing behind (a file given with
#   --archive is never removed).
# For tests only: NIBBLE_CIFAR10_MD5 replaces the expected MD5 and
# NIBBLE_CIFAR10_FILE_SIZE the expected size of each file (in bytes), so that
# small fake archives can stand in for the real one.
# Exit status: 0 the files are there, 1 they are not, 2 bad usage.
set -eu
url_default="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
md5_expected="${NIBBLE_CIFAR10_MD5:-c32a1d4ab5d03f1284b67883e8d87530}"
file_size="${NIBBLE_CIFAR10_FILE_SIZE:-30730000}"
files="data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin"
root="$(cd "$(dirname "$0")/.." && pwd)"
me="fetch-cifar10.sh"
url="$url_default"
archive=""
dest="$root/data"
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --archive | --url | --dest)
      [ $# -ge 2 ] || { echo "$me: $1 needs a value" >&2; exit 2; }
      case "$1" in --archive) archive="$2" ;; --url) url="$2" ;; --dest) dest="$2" ;; esac
      shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "$me: unknown option $1 (see $me --help)" >&2; exit 2 ;;
  esac
done

# Prints what keeps FOLDER from being a complete copy, one line each; nothing when complete.
problems() {
  if [ ! -d "$1" ]; then echo "the folder $1 does not exist"; return; fi
  for f in $files; do
    if [ ! -f "$1/$f" ]; then
      echo "$f is missing"
    else
      size=$(wc -c < "$1/$f" | tr -d ' ')
      [ "$size" = "$file_size" ] || echo "$f has $size bytes, not $file_size"
    fi
  done
}

advice() {
  cat >&2 <<EOF
To go on:
  - download $url_default on a machine that has network
    (MD5 c32a1d4ab5d03f1284b67883e8d87530), copy it here and run
      scripts/fetch-cifar10.sh --archive cifar-10-binary.tar.gz
    (or scripts/setup-debian.sh --data --archive cifar-10-binary.tar.gz);
  - or, with an extracted cifar-10-batches-bin folder at hand, give it to the trainers:
      NIBBLE_DATA=/path/to/cifar-10-batches-bin build/tools/train_cifar10
    (or build/tools/train_cifar10 --data /path/to/cifar-10-batches-bin).
EOF
}

if [ -n "${NIBBLE_DATA:-}" ]; then
  missing=$(problems "$NIBBLE_DATA")
  if [ -z "$missing" ]; then
    echo "CIFAR-10: NIBBLE_DATA=$NIBBLE_DATA holds the six binary files; nothing to do."
    exit 0
  fi
  echo "$me: NIBBLE_DATA=$NIBBLE_DATA is not a complete CIFAR-10 folder (the trainers read it instead of data/):" >&2
  echo "$missing" | sed 's/^/  /' >&2
  echo "Point NIBBLE_DATA at the folder cifar-10-batches-bin of $url_default, or unset it and run $me again to fetch into data/." >&2
  exit 1
fi

folder="$dest/cifar-10-batches-bin"
if [ -z "$(problems "$folder")" ]; then
  echo "CIFAR-10: $folder already holds the six binary files; nothing to do."
  exit 0
fi

made_dest=""
download=""
unpack=""
cleanup() {
  [ -z "$download" ] || rm -f "$download"
  [ -z "$unpack" ] || rm -rf "$unpack"
  [ -z "$made_dest" ] || rmdir "$dest" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ ! -d "$dest" ]; then
  mkdir -p "$dest"
  made_dest=1
fi

if [ -n "$archive" ]; then
  [ -f "$archive" ] || { echo "$me: the archive $archive does not exist" >&2; exit 1; }
  source="$archive"
  echo "CIFAR-10: using the archive $archive"
else
  if command -v curl > /dev/null; then
    tool=curl
  elif command -v wget > /dev/null; then
    tool=wget
  else
    echo "$me: neither curl nor wget is installed, so $url cannot be downloaded" >&2
    echo "(scripts/setup-debian.sh --data installs curl)." >&2
    advice
    exit 1
  fi
  download=$(mktemp "$dest/.cifar-10-binary.tar.gz.XXXXXX")
  [ "$url" != "$url_default" ] || size_note=" (about 163 MB)"
  echo "CIFAR-10: $folder is not there; downloading $url${size_note:-} with $tool"
  if [ "$tool" = curl ]; then
    if [ -t 2 ]; then quiet="--progress-bar"; else quiet="-sS"; fi
    fetched() { curl -fL $quiet --connect-timeout 30 --retry 2 -o "$download" "$url"; }
  else
    if [ -t 2 ]; then quiet=""; else quiet="-nv"; fi
    fetched() { wget $quiet --timeout=30 --tries=3 -O "$download" "$url"; }
  fi
  if ! fetched; then
    echo "$me: could not download $url (no network here, or the server did not answer); nothing was kept." >&2
    advice
    exit 1
  fi
  source="$download"
fi

md5=$(md5sum < "$source" | cut -d ' ' -f 1)
if [ "$md5" != "$md5_expected" ]; then
  if [ -n "$download" ]; then
    echo "$me: refused the download: its MD5 is $md5, expected $md5_expected; removed it." >&2
    echo "(A broken or intercepted download; try again, or use --archive with a copy fetched elsewhere.)" >&2
  else
    echo "$me: refused $archive: its MD5 is $md5, expected $md5_expected (not the official cifar-10-binary.tar.gz, or damaged)." >&2
  fi
  exit 1
fi
echo "CIFAR-10: MD5 checked ($md5)"

unpack=$(mktemp -d "$dest/.cifar-10-unpacking.XXXXXX")
if ! tar -xzf "$source" -C "$unpack" 2>"$unpack/.tar-errors"; then
  echo "$me: refused ${archive:-the download}: it does not unpack as a gzip'd tar:" >&2
  sed 's/^/  /' "$unpack/.tar-errors" >&2
  exit 1
fi
missing=$(problems "$unpack/cifar-10-batches-bin")
if [ -n "$missing" ]; then
  echo "$me: refused ${archive:-the download}: its folder cifar-10-batches-bin is not complete:" >&2
  echo "$missing" | sed 's/^/  /' >&2
  exit 1
fi
if [ -e "$folder" ] || [ -L "$folder" ]; then
  aside="$folder.incomplete-$(date +%Y%m%d-%H%M%S)"
  mv "$folder" "$aside"
  echo "CIFAR-10: moved the incomplete folder that was there to $aside (delete it when you like)"
fi
mv "$unpack/cifar-10-batches-bin" "$folder"
[ -z "$download" ] || echo "CIFAR-10: removed the downloaded archive (the folder is all the trainers need)"
made_dest=""
echo "CIFAR-10: unpacked into $folder and checked the six binary files."
if [ "$dest" = "$root/data" ]; then
  echo "The trainers read it by default when run from $root (from elsewhere, pass --data $folder)."
else
  echo "Give it to the trainers with --data $folder or NIBBLE_DATA=$folder."
fi
