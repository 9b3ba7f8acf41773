# warden's seccomp profile installer: copies the profiles of the ConfigMaps mounted at $src to
# kubelet's seccomp root on the node ($root), where a pod's `localhostProfile: NS/SVC.json` is
# read. It writes exactly the listed profiles, each atomically (a copy beside it, then a rename),
# overwrites no file it did not write, and removes only profiles it wrote before that are no
# longer listed. What it wrote is kept in $state, so that a run interrupted anywhere leaves no
# file of its own unaccounted for. POSIX sh and busybox applets only.
set -eu
src=/warden/profiles
root=/host/seccomp
state="$root/.warden-seccomp-installer"
list="$src/profiles.list"
work="$root/.warden-seccomp-installer.work"
trap 'rm -f "$work.owned" "$work.state"' EXIT

# A listed path is NAMESPACE/SERVICE.json; anything else in the list or the state is refused or
# ignored, so that neither can name a file outside the root.
valid() {
  case "$1" in
    */*/* | .* | */.* | *..* | "") return 1 ;;
    */*.json) return 0 ;;
    *) return 1 ;;
  esac
}
owned() { [ -f "$state" ] && grep -qxF "$1" "$state"; }

# First, refuse without writing anything: a profile's path holding another file that differs.
conflicts=0
: > "$work.owned"
while IFS= read -r path; do
  valid "$path" || { echo "warden-seccomp-installer: bad path in the list: $path" >&2; exit 1; }
  key=$(echo "$path" | tr / .)
  [ -f "$src/$key" ] || { echo "warden-seccomp-installer: $key is not mounted" >&2; exit 1; }
  if [ -e "$root/$path" ] && ! owned "$path"; then
    if cmp -s "$src/$key" "$root/$path"; then
      echo "warden-seccomp-installer: $path is already there, byte for byte; left as it is"
    else
      echo "warden-seccomp-installer: refusing to overwrite $root/$path: this installer did not write it" >&2
      conflicts=1
    fi
    continue
  fi
  echo "$path" >> "$work.owned"
done < "$list"
[ "$conflicts" = 0 ] || exit 1

# What it owns while it works: what it owned before and what it is about to write.
{ [ -f "$state" ] && cat "$state"; cat "$work.owned"; } | sort -u > "$work.state"
mv -f "$work.state" "$state"

written=0
while IFS= read -r path; do
  key=$(echo "$path" | tr / .)
  mkdir -p "$root/${path%/*}"
  cp "$src/$key" "$root/$path.warden-new"
  mv -f "$root/$path.warden-new" "$root/$path"
  written=$((written + 1))
done < "$work.owned"

removed=0
while IFS= read -r path; do
  valid "$path" || continue
  grep -qxF "$path" "$work.owned" && continue
  if [ -e "$root/$path" ]; then
    rm -f "$root/$path"
    removed=$((removed + 1))
  fi
done < "$state"

sort -u "$work.owned" > "$work.state"
mv -f "$work.state" "$state"
echo "warden-seccomp-installer: $written profiles written, $removed no longer listed removed"
