# Sourced by the project's scripts: puts Node 24 (node_modules/.bin) and the toolchain's bin folders on PATH.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PATH="$root/node_modules/.bin:$PATH"
while read -r dir; do PATH="$dir:$PATH"; done < <(bash "$root/scripts/toolchain.sh" paths)
export PATH
