# Shared by the benchmark scripts (sourced, not run): configure and build the targets they need.
# The caller has cd'd to the repository root and defined say() (message to stderr).

# release_build DIR TARGET...: configures DIR as a Release build without tests when it has no
# CMakeCache.txt, warns when an existing DIR is another build type, builds TARGETs there and
# prints DIR as an absolute path.
release_build() {
  local dir=$1 build_type
  shift
  if [[ ! -f $dir/CMakeCache.txt ]]; then
    say "configuring $dir (Release) ..."
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DDUTYD_BUILD_TESTS=OFF >/dev/null
  fi
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$dir/CMakeCache.txt")
  [[ $build_type == Release ]] || say "warning: $dir is CMAKE_BUILD_TYPE='$build_type', not Release"
  cmake --build "$dir" --target "$@" -j"$(nproc)" >/dev/null
  (cd "$dir" && pwd)
}
