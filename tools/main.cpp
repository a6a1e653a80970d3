// dasnet: train, evaluate and apply ResNet classifiers of usable energy in DAS records.
#include <cstdio>
#include <exception>
#include <string>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "dasnet/build_config.h"
#include "tools/commands.h"
#include "tools/version.h"

int main(int argc, char** argv) {
  CLI::App app{"dasnet " DASNET_VERSION ": deep learning engine for Distributed Acoustic Sensing"};
  app.require_subcommand(1);
  app.set_version_flag("--version", dasnet::version_report);
  dasnet::add_train_command(app);
  dasnet::add_eval_command(app);
  dasnet::add_predict_command(app);
  dasnet::add_inspect_command(app);
  dasnet::add_convert_command(app);
  dasnet::add_synth_command(app);
  dasnet::add_label_command(app);
  dasnet::add_dataset_command(app);
  dasnet::add_bench_command(app);
  dasnet::add_sweep_command(app);
  dasnet::add_select_command(app);
  dasnet::add_report_command(app);
  dasnet::add_infer_command(app);
  dasnet::add_export_command(app);
  dasnet::add_import_command(app);
  // CLI11 reports a missing or unknown command only as "a subcommand is required"; name it instead.
  if (argc == 1 || argv[1][0] != '-') {
    std::string valid;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) {
      valid += (valid.empty() ? "" : ", ") + sub->get_name();
      known = known || (argc > 1 && sub->get_name() == argv[1]);
    }
    if (!known) {
      if (argc == 1) std::fprintf(stderr, "dasnet: error: no command given (valid: %s)\n", valid.c_str());
      else std::fprintf(stderr, "dasnet: error: unknown command '%s' (valid: %s)\n", argv[1], valid.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end the parse with code 0; every other parse error is a usage error,
    // exit 2 (CLI11's own codes, 104-114, are not what the README promises).
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "dasnet: error: %s\nRun with --help for more information.\n", e.what());
    return 2;
  } catch (const dasnet::UsageError& e) {
    std::fprintf(stderr, "dasnet: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dasnet: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
