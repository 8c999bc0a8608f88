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

void runInterpreted(ModuleOp module, const RunOptions &options) {
  SafetensorsFile in = readSafetensors(options.inputPath);
  InterpreterOptions interp;
  interp.float32 = options.float32;
  SafetensorsFile out;
  out.metadata["producer"] = "gptc run --interpret";

  func::FuncOp forward = lookupEntry(module, "forward");
  Buffer logits =
      interpret(forward, bindArguments(forward, in, options.inputPath), interp);
  out.tensors["logits"] =
      TensorData::fromDoubles(DType::F32, logits.shape, logits.data);
  if (!in.find("targets"))
    return writeSafetensors(options.outputPath, out);

  if (!in.find("lr")) {
    func::FuncOp loss = lookupEntry(module, "loss");
    Buffer l =
        interpret(loss, bindArguments(loss, in, options.inputPath), interp);
    out.tensors["loss"] = TensorData::fromDoubles(DType::F32, l.shape, l.data);
    return writeSafetensors(options.outputPath, out);
  }

  func::FuncOp step = lookupEntry(module, "train_step");
  const TensorData *stepNumber = in.find("step");
  if (!stepNumber || stepNumber->numel() != 1 || stepNumber->toDoubles()[0] < 1)
    throw RuntimeError(options.inputPath +
                       ": a training step needs 'step', the 1-based number "
                       "of this step (a scalar)");
  interp.training = true;
  interp.seed = options.seed;
  interp.step = static_cast<uint64_t>(stepNumber->toDoubles()[0]);
  std::vector<Buffer> results =
      interpretAll(step, bindArguments(step, in, options.inputPath), interp);
  for (unsigned r = 0; r < results.size(); ++r) {
    auto name = step.getResultAttrOfType<StringAttr>(r, "gpt.output");
    out.tensors[name.str()] =
        TensorData::fromDoubles(DType::F32, results[r].shape, results[r].data);
  }
  writeSafetensors(options.outputPath, out);
}

} // namespace gptc
