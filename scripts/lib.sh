# Shared by the install scripts (sourced, not run).

# apt_install WHAT PACKAGE...: installs Debian packages for WHAT (a phrase for
# the message) through apt-get, as root or with sudo; fails with a message
# when there is no apt-get.
apt_install() {
  local what="$1"
  shift
  if ! command -v apt-get >/dev/null; then
    echo "no apt-get to install $* for $what: install them yourself and put them on PATH" >&2
    return 1
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "installing $* (Debian packages) for $what …" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# build_module_tool MODULE VERSION PKG BIN: builds the main package PKG (a
# path inside the module) of MODULE@VERSION from the Go module proxy's source
# into BIN, once (an existing BIN is kept), and prints BIN. `go install
# module/pkg@version` cannot always be used: it refuses modules with replace
# directives, and the proxy refuses some sub-path lookups.
build_module_tool() {
  local module="$1" version="$2" pkg="$3" bin="$4"
  if [ -x "$bin" ]; then echo "$bin"; return 0; fi
  mkdir -p "$(dirname "$bin")"
  local dir
  dir=$(go mod download -json "$module@$version" | sed -nE 's/^\t"Dir": "(.*)",$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir/$pkg" ]; then
    echo "could not download $module@$version from the module proxy" >&2
    return 1
  fi
  echo "building $module $version (once) …" >&2
  (cd "$dir" && go build -o "$bin.tmp" "./$pkg")
  mv "$bin.tmp" "$bin"
  echo "$bin"
}
