# lit configuration for gptc's FileCheck tests.
#
# Substitutions: %gptc, %gptc-opt (via PATH), %models (the models/ folder),
# %S etc. as usual. Features: `mlir` when the MLIR parts are built.
import os

import lit.formats

config.name = "gptc"
config.test_format = lit.formats.ShTest(True)
config.suffixes = [".gpt", ".mlir", ".test", ".yaml"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.gptc_obj_root, "tests", "lit")

path = [os.path.join(config.gptc_tools_dir, "gptc")]
if config.gptc_enable_mlir:
    path.append(os.path.join(config.gptc_tools_dir, "gptc-opt"))
    config.available_features.add("mlir")
path.append(config.llvm_tools_dir)
config.environment["PATH"] = os.pathsep.join(path + [config.environment["PATH"]])
if config.gptc_sanitize:
    config.environment["ASAN_OPTIONS"] = "detect_leaks=1"
    config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1"

models = os.path.join(config.gptc_src_root, "models")
config.substitutions.append(("%models", models))
config.substitutions.append(("%src", config.gptc_src_root))
config.substitutions.append(("%obj", config.gptc_obj_root))
