//===- Run.cpp - `gptc run`: executing a model in process -----------------===//

#include "Run.h"

#include "gptc/IR/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;

namespace gptc {

static func::FuncOp lookupEntry(ModuleOp module, const char *name) {
  auto f = module.lookupSymbol<func::FuncOp>(name);
  if (!f)
    throw RuntimeError(std::string("the model has no entry point '") + name +
                       "' (export def " + name + "(...) in the .gpt file)");
  return f;
}

ContractFunction contractFunction(ModuleOp module, const SafetensorsFile &in,
                                  const RunOptions &options) {
  ContractFunction c;
  c.interp.float32 = options.float32;
  if (!in.find("targets")) {
    c.func = lookupEntry(module, "forward");
  } else if (!in.find("lr")) {
    c.func = lookupEntry(module, "loss");
  } else {
    c.func = lookupEntry(module, "train_step");
    const TensorData *step = in.find("step");
    if (!step || step->numel() != 1 || step->toDoubles()[0] < 1)
      throw RuntimeError(options.inputPath +
                         ": a training step needs 'step', the 1-based number "
                         "of this step (a scalar)");
    c.interp.training = true;
    c.interp.seed = options.seed;
    c.interp.step = static_cast<uint64_t>(step->toDoubles()[0]);
  }
  return c;
}

void runInterpreted(ModuleOp module, const RunOptions &options) {
  SafetensorsFile in = readSafetensors(options.inputPath);
  SafetensorsFile out;
  out.metadata["producer"] = "gptc run --interpret";
  ContractFunction c = contractFunction(module, in, options);
  std::vector<Buffer> results = interpretAll(
      c.func, bindArguments(c.func, in, options.inputPath), c.interp);
  for (unsigned r = 0; r < results.size(); ++r) {
    auto name = c.func.getResultAttrOfType<StringAttr>(r, "gpt.output");
    std::string key = name                            ? name.str()
                      : c.func.getName() == "forward" ? "logits"
                                                      : "loss";
    out.tensors[key] =
        TensorData::fromDoubles(DType::F32, results[r].shape, results[r].data);
  }
  // A loss or a training step reports the logits too, as executables do.
  if (c.func.getName() != "forward") {
    func::FuncOp forward = lookupEntry(module, "forward");
    InterpreterOptions interp;
    interp.float32 = options.float32;
    Buffer logits = interpret(
        forward, bindArguments(forward, in, options.inputPath), interp);
    out.tensors["logits"] =
        TensorData::fromDoubles(DType::F32, logits.shape, logits.data);
  }
  writeSafetensors(options.outputPath, out);
}

} // namespace gptc
