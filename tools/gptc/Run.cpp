//===- Run.cpp - `gptc run`: executing a model in process -----------------===//

#include "Run.h"

#include "gptc/IR/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;

namespace gptc {

static std::string irTypeStr(RankedTensorType t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.getRank(); ++i)
    s += (i ? ", " : "") + (t.isDynamicDim(i)
                                ? std::string("?")
                                : std::to_string(t.getDimSize(i)));
  return s + "]";
}

/// Collects the arguments of `func` from `file` by their gpt.input and
/// gpt.param names, checking presence, dtype class and static dims.
static std::vector<Buffer> bindArguments(func::FuncOp func,
                                         const SafetensorsFile &file,
                                         const std::string &path) {
  std::vector<Buffer> args;
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    auto name = func.getArgAttrOfType<StringAttr>(i, "gpt.param");
    bool isParam = static_cast<bool>(name);
    if (!name)
      name = func.getArgAttrOfType<StringAttr>(i, "gpt.input");
    auto type = cast<RankedTensorType>(func.getArgument(i).getType());
    const TensorData *t = file.find(name.str());
    if (!t)
      throw RuntimeError(path + ": missing " +
                         (isParam ? "parameter" : "input") + " '" +
                         name.str() + "' (" + irTypeStr(type) + ")");
    bool wantInt = type.getElementType().isInteger(32);
    bool isInt = t->dtype == DType::I32 || t->dtype == DType::I64;
    bool isFloat = t->dtype == DType::F32 || t->dtype == DType::F64 ||
                   t->dtype == DType::F16 || t->dtype == DType::BF16;
    if (wantInt ? !isInt : !isFloat)
      throw RuntimeError(path + ": tensor '" + name.str() + "' is " +
                         t->typeStr() + " but the model expects " +
                         (wantInt ? "integer ids (I32 or I64)" : "floats") +
                         " of shape " + irTypeStr(type));
    bool ok = static_cast<int64_t>(t->shape.size()) == type.getRank();
    for (int64_t d = 0; ok && d < type.getRank(); ++d)
      ok = type.isDynamicDim(d) || type.getDimSize(d) == t->shape[d];
    if (!ok)
      throw RuntimeError(path + ": tensor '" + name.str() + "' has shape " +
                         t->typeStr() + " but the model expects " +
                         irTypeStr(type));
    args.push_back(Buffer{t->shape, t->toDoubles()});
  }
  return args;
}

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
  if (in.find("targets")) {
    func::FuncOp loss = lookupEntry(module, "loss");
    Buffer l =
        interpret(loss, bindArguments(loss, in, options.inputPath), interp);
    out.tensors["loss"] = TensorData::fromDoubles(DType::F32, l.shape, l.data);
  }
  writeSafetensors(options.outputPath, out);
}

} // namespace gptc
