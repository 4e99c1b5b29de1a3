// The start of every kubec2 program's main(): the command line parsed with
// Boost.Program_options, --help and --version answered, the log level set,
// and usage errors reported the same way ("PROGRAM: what is wrong (see
// --help)", exit code 2, as the programs' headers state). Header-only, so
// the runtime library itself does not link Boost.Program_options.
#pragma once

#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include <boost/program_options.hpp>

#include "runtime/log.h"

namespace kube::cli {

inline constexpr int kExitUsage = 2;

// Writes "PROGRAM: MESSAGE" to stderr and returns `code`, for
// `return fail(...)` in main().
inline int fail(std::string_view program, int code, const std::string& message) {
  std::cerr << program << ": " << message << "\n";
  return code;
}

// Parses argv into the variables `options` binds, then sets the log level
// from `logLevel` (a variable `options` binds: read after parsing).
// nullopt: go on; otherwise main() returns the value: 0 after --help or
// --version, kExitUsage for an unknown or malformed flag or a bad level.
inline std::optional<int> parse(int argc, char** argv,
                                const boost::program_options::options_description& options,
                                std::string_view program, std::string_view version,
                                const std::string& logLevel) {
  namespace po = boost::program_options;
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return fail(program, kExitUsage, std::string(e.what()) + " (see --help)");
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << program << " " << version << "\n";
    return 0;
  }
  try {
    kube::log::setup(logLevel);
  } catch (const std::exception& e) {
    return fail(program, kExitUsage, std::string("--log-level: ") + e.what());
  }
  return std::nullopt;
}

}  // namespace kube::cli
