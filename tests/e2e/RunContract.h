//===- RunContract.h - Random inputs of a training step ---------*- C++ -*-===//
//
// Inputs of the run contract for the e2e tests: every parameter, moment and
// scalar a compiled training step reads, drawn at random from its plan.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_TESTS_E2E_RUNCONTRACT_H
#define GPTC_TESTS_E2E_RUNCONTRACT_H

#include "gptc/Runtime/Safetensors.h"

#include <cmath>
#include <random>
#include <sstream>
#include <string>

namespace gptc::test {

/// Random weights (std 0.5), moments and ids below `vocab` of the training
/// step that `plan` (`gptc emit --stage=kernels --task=train`) describes,
/// at [b, t].
inline SafetensorsFile randomTrainInputs(const std::string &plan, int64_t b,
                                         int64_t t, unsigned seed, int vocab) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 0.5);
  SafetensorsFile in;
  std::istringstream lines(plan.substr(plan.find("function train_step")));
  std::string line;
  while (std::getline(lines, line) && line != "end") {
    std::istringstream w(line);
    std::string kw, id, kind, name, dtype, shape;
    w >> kw >> id >> kind >> name >> dtype >> shape;
    if (kw != "value" || (kind != "param" && kind != "input"))
      continue;
    if (name == "tokens" || name == "targets") {
      std::vector<double> ids(b * t);
      for (double &x : ids)
        x = static_cast<double>(rng() % vocab);
      in.tensors[name] = TensorData::fromDoubles(DType::I32, {b, t}, ids);
      continue;
    }
    std::vector<int64_t> dims;
    std::istringstream sizes(shape == "-" ? "" : shape);
    for (std::string d; std::getline(sizes, d, ',');)
      dims.push_back(std::stoll(d));
    int64_t n = 1;
    for (int64_t d : dims)
      n *= d;
    std::vector<double> v(n);
    for (double &x : v)
      x = name.rfind("adam.v.", 0) == 0 ? std::fabs(normal(rng)) * 1e-2
                                        : normal(rng);
    if (name == "lr")
      v = {1e-2};
    else if (name == "step")
      v = {3};
    else if (name == "weight_decay")
      v = {0.1};
    else if (name == "clip_norm")
      v = {1.0};
    in.tensors[name] = TensorData::fromDoubles(DType::F32, dims, v);
  }
  return in;
}

} // namespace gptc::test

#endif // GPTC_TESTS_E2E_RUNCONTRACT_H
