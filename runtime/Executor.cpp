//===- Executor.cpp - Running a compiled model's host program -------------===//

#include "gptc/Runtime/Executor.h"
#include "gptc/Runtime/ThreadPool.h"
#include "gptc/Support/Error.h"

#include "HalideRuntime.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <limits>
#include <malloc.h>
#include <memory>
#include <new>
#include <optional>
#include <ostream>
#include <sys/mman.h>
#include <unistd.h>

namespace gptc {

namespace {

std::string halideMessage;

void onHalideError(void *, const char *msg) { halideMessage = msg; }

std::string formatShape(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::vector<int64_t> evalShape(const SymShape &s, const SymValues &syms) {
  std::vector<int64_t> r;
  for (const SymExpr &d : s)
    r.push_back(d.eval(syms));
  return r;
}

int64_t numel(const std::vector<int64_t> &s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

halide_type_t halideType(const std::string &dtype) {
  if (dtype == "i32")
    return halide_type_t(halide_type_int, 32);
  if (dtype == "u8")
    return halide_type_t(halide_type_uint, 8);
  return halide_type_t(halide_type_float, 32);
}

} // namespace

Executor::Executor(Plan p, std::vector<KernelEntry> e, ExecutorOptions o,
                   std::vector<KernelPacker> k)
    : plan(std::move(p)), entries(std::move(e)), packers(std::move(k)),
      options(o), stats(plan.kernels.size()) {
  if (entries.size() != plan.kernels.size() ||
      (!packers.empty() && packers.size() != entries.size()))
    throw RuntimeError("the executable's kernel table does not match its plan");
  halide_set_error_handler(onHalideError);
  // Kernels allocate their scratch with malloc on every call; keep freed
  // blocks in the heap rather than returning them to the OS, or each call
  // pays page faults for them again.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, -1);
  setThreadPoolSize(options.threads);
  halide_set_custom_do_par_for(parallelFor);
  // Halide's own pool still runs nested task loops (halide_do_parallel_tasks).
  if (options.threads > 0)
    halide_set_num_threads(options.threads);
}

Executor::~Executor() {
  if (options.device) {
    for (auto &[name, in] : deviceInputs)
      options.device->release(in.ptr);
    if (arenaBase)
      options.device->release(arenaBase);
  } else if (arenaBase) {
    munmap(arenaBase, arenaCapacity);
  }
}

uint8_t *Executor::reserveArena(int64_t bytes, const std::string &function) {
  if (bytes <= arenaCapacity)
    return static_cast<uint8_t *>(arenaBase);
  if (options.device) {
    if (arenaBase)
      options.device->release(arenaBase);
    arenaBase = nullptr;
    arenaCapacity = 0;
    arenaBase = options.device->allocate(std::max<int64_t>(bytes, 256),
                                         "the arena of " + function);
    arenaCapacity = std::max<int64_t>(bytes, 256);
    return static_cast<uint8_t *>(arenaBase);
  }
  if (arenaBase)
    munmap(arenaBase, arenaCapacity);
  arenaBase = nullptr;
  arenaCapacity = 0;
  // Overcommit would let a too-large arena map and the process die on first
  // touch: compare with the machine's memory instead.
  int64_t physical = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) *
                     static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  if (physical > 0 && bytes > physical)
    throw RuntimeError("out of memory: " + function + " needs an arena of " +
                       std::to_string(bytes >> 20) + " MiB at these sizes, " +
                       "more than this machine's " +
                       std::to_string(physical >> 20) +
                       " MiB; use a smaller batch or context");
  // 2 MiB multiples, on transparent huge pages where the kernel allows.
  int64_t size = std::max<int64_t>(bytes, 1) + ((1 << 21) - 1);
  size &= ~static_cast<int64_t>((1 << 21) - 1);
  void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    throw RuntimeError("out of memory: the arena for " + function + " needs " +
                       std::to_string(bytes >> 20) + " MiB at these sizes; " +
                       "try a smaller batch or context");
  madvise(p, size, MADV_HUGEPAGE);
  arenaBase = p;
  arenaCapacity = size;
  return static_cast<uint8_t *>(p);
}

namespace {

/// The value `v` is a view of, through any views; `v` itself otherwise.
int baseValue(const PlanFunction &fn, int v) {
  while (fn.values[v].kind == PlanValue::View)
    v = fn.values[v].base;
  return v;
}

/// The parameter call `c` reads as b (argument 1) if it is a matmul and b
/// is a parameter, seen whole; null otherwise.
const PlanValue *paramB(const PlanFunction &fn, const PlanCall &c) {
  if (c.firstOutput < 2)
    return nullptr;
  const PlanValue &v = fn.values[baseValue(fn, c.args[1].value)];
  return v.kind == PlanValue::Param ? &v : nullptr;
}

/// The element type of packed weights.
halide_type_t packedType(WeightFormat f) {
  switch (f) {
  case WeightFormat::BF16:
    return halide_type_t(halide_type_bfloat, 16);
  case WeightFormat::Int8:
    return halide_type_t(halide_type_int, 8);
  default:
    return halide_type_t(halide_type_float, 32);
  }
}

} // namespace

const char *weightFormatName(WeightFormat f) {
  switch (f) {
  case WeightFormat::BF16:
    return "bf16";
  case WeightFormat::Int8:
    return "int8";
  default:
    return "f32";
  }
}

int64_t Executor::packedBytes() const {
  int64_t bytes = 0;
  for (auto &[key, p] : packed)
    if (p.data) {
      int64_t n = packedType(p.format).bytes();
      for (int32_t e : p.extents)
        n *= e;
      bytes += n;
    }
  return bytes;
}

std::set<std::string> Executor::packConstantParameters(
    const SafetensorsFile &in,
    const std::function<bool(const std::string &)> &constant,
    WeightFormat format) {
  if (options.device || packers.empty())
    return {};
  shapes.clear(); // their calls read the packed copies from now on
  // 1. Pack every (parameter, packer) pair a call needs, once.
  for (const PlanFunction &fn : plan.functions)
    for (const PlanCall &call : fn.calls) {
      KernelPacker pack = packers[call.kernel];
      const PlanValue *param = pack ? paramB(fn, call) : nullptr;
      if (!param || !constant(param->name) || packed.count({param->name, pack}))
        continue;
      const TensorData *t = in.find(param->name);
      std::vector<int64_t> shape;
      try {
        shape = evalShape(call.args[1].shape, {});
      } catch (const RuntimeError &) {
        continue; // sized by the inputs: not a weight
      }
      // A tensor that is not what the model declares stays unpacked, so
      // that run() reports it.
      if (!t || t->dtype != DType::F32 || shape.size() != 2 ||
          t->numel() != numel(shape) || t->shape != evalShape(param->shape, {}))
        continue;
      std::vector<halide_dimension_t> dims = {
          halide_dimension_t(0, static_cast<int32_t>(shape[1]), 1),
          halide_dimension_t(0, static_cast<int32_t>(shape[0]),
                             static_cast<int32_t>(shape[1]))};
      halide_buffer_t b{};
      b.type = halide_type_t(halide_type_float, 32);
      b.dimensions = 2;
      b.dim = dims.data();
      b.host = const_cast<uint8_t *>(t->bytes.data());
      halide_dimension_t packedDims[3];
      halide_buffer_t q{};
      q.type = packedType(format);
      q.dimensions = 3;
      q.dim = packedDims;
      PackedParam &p = packed[{param->name, pack}];
      if (pack(&b, &q) != 0 || q.dimensions != 3)
        continue; // the kernel reads b as stored (an empty entry says so)
      p.format = format;
      size_t bytes = q.type.bytes();
      for (int d = 0; d < 3; ++d) {
        p.extents.push_back(packedDims[d].extent);
        bytes *= static_cast<size_t>(packedDims[d].extent);
      }
      // Decoding streams every weight once per token: on 2 MiB pages the
      // stream takes a TLB miss per 2 MiB instead of per 4 KiB.
      bytes =
          (std::max<size_t>(bytes, 1) + (1 << 21) - 1) & ~size_t{(1 << 21) - 1};
      void *mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (mem == MAP_FAILED)
        throw RuntimeError("out of memory packing '" + param->name + "'");
      madvise(mem, bytes, MADV_HUGEPAGE);
      p.data.reset(mem, [bytes](void *m) { munmap(m, bytes); });
      q.host = static_cast<uint8_t *>(mem);
      if (pack(&b, &q) != 0)
        throw RuntimeError("kernel " + plan.kernels[call.kernel].symbol +
                           " could not pack '" + param->name +
                           "': " + halideMessage);
    }
  // 2. The parameters read only in packed form.
  std::set<std::string> rawUse, packedUse;
  for (const PlanFunction &fn : plan.functions) {
    auto use = [&](int v, bool asPacked) {
      const PlanValue &base = fn.values[baseValue(fn, v)];
      if (base.kind == PlanValue::Param)
        (asPacked ? packedUse : rawUse).insert(base.name);
    };
    for (const PlanCall &call : fn.calls)
      for (size_t a = 0; a < call.args.size(); ++a)
        use(call.args[a].value, a == 1 && packedB(fn, call));
    for (auto &[name, v] : fn.outputs)
      use(v, false);
    for (const PlanFunction::Bind &b : fn.binds)
      use(b.value, false);
  }
  std::set<std::string> freeable;
  for (const std::string &name : packedUse)
    if (!rawUse.count(name))
      freeable.insert(name);
  packedOnly = freeable;
  return freeable;
}

const Executor::PackedParam *Executor::packedB(const PlanFunction &fn,
                                               const PlanCall &call) const {
  if (packed.empty() || !packers[call.kernel])
    return nullptr;
  const PlanValue *param = paramB(fn, call);
  if (!param)
    return nullptr;
  auto it = packed.find({param->name, packers[call.kernel]});
  return it != packed.end() && it->second.data ? &it->second : nullptr;
}

/// Working these out again for every run took about 2 microseconds a
/// kernel call, a fifth of SmolLM2's int8 decode on a 2-vCPU Zen 5.
struct Executor::Shapes {
  SymValues syms;
  std::vector<std::vector<int64_t>> values; ///< Every value's shape.
  /// A call's argument as its buffer: dims innermost first, and the packed
  /// copy it reads instead, if any.
  struct Arg {
    halide_type_t type;
    std::vector<halide_dimension_t> dims;
    void *packed = nullptr;
  };
  std::vector<std::vector<Arg>> args;         ///< Per call.
  std::optional<std::vector<bool>> elsewhere; ///< What `arena` is without.
  ArenaPlan arena;
};

Executor::Shapes &Executor::shapesAt(const PlanFunction &fn,
                                     const SymValues &syms) {
  std::unique_ptr<Shapes> &sh = shapes[fn.name];
  if (sh && sh->syms == syms)
    return *sh;
  sh = std::make_unique<Shapes>();
  sh->syms = syms;
  for (const PlanValue &v : fn.values)
    sh->values.push_back(evalShape(v.shape, syms));
  for (const PlanCall &call : fn.calls) {
    std::vector<Shapes::Arg> &args = sh->args.emplace_back();
    for (size_t a = 0; a < call.args.size(); ++a) {
      Shapes::Arg &arg = args.emplace_back();
      if (const PackedParam *pk = a == 1 ? packedB(fn, call) : nullptr) {
        arg.type = packedType(pk->format);
        int32_t stride = 1;
        for (int32_t e : pk->extents) {
          arg.dims.push_back(halide_dimension_t(0, e, stride));
          stride *= e;
        }
        arg.packed = pk->data.get();
        continue;
      }
      arg.type = halideType(fn.values[call.args[a].value].dtype);
      std::vector<int64_t> shape = evalShape(call.args[a].shape, syms);
      int64_t stride = 1;
      for (size_t d = shape.size(); d-- > 0;) {
        arg.dims.push_back(halide_dimension_t(0, static_cast<int32_t>(shape[d]),
                                              static_cast<int32_t>(stride)));
        stride *= shape[d];
      }
    }
  }
  return *sh;
}

bool Executor::has(const std::string &function) const {
  return plan.find(function) != nullptr;
}

std::map<std::string, TensorData>
Executor::run(const std::string &function, const SafetensorsFile &in,
              const std::string &source, uint64_t step,
              const std::function<bool(const std::string &)> &keep,
              BatchSlice slice) {
  const PlanFunction *fn = plan.find(function);
  if (!fn)
    throw RuntimeError("this executable has no '" + function + "' function");
  const int n = static_cast<int>(fn->values.size());

  // Symbols from the bound input dims.
  SymValues syms;
  for (const PlanFunction::Bind &b : fn->binds) {
    const PlanValue &v = fn->values[b.value];
    const TensorData *t = in.find(v.name);
    if (!t)
      throw RuntimeError(source + ": missing input '" + v.name + "'");
    if (static_cast<int>(t->shape.size()) <= b.dim)
      throw RuntimeError(source + ": input '" + v.name + "' has shape " +
                         t->typeStr() + " but the model expects " +
                         std::to_string(v.shape.size()) + " dims");
    int64_t size = t->shape[b.dim];
    auto [it, fresh] = syms.emplace(b.sym, size);
    if (!fresh && it->second != size)
      throw RuntimeError(source + ": input '" + v.name + "' gives " + b.sym +
                         " = " + std::to_string(size) + " but another input " +
                         "gave " + std::to_string(it->second));
    if (size <= 0)
      throw RuntimeError(source + ": input '" + v.name + "' has " + b.sym +
                         " = 0");
  }

  Shapes &sh = shapesAt(*fn, syms);

  // Kernels index with 32 bits (Halide's extents and strides): a tensor of
  // 2^31 elements or more would wrap. Refused until 64-bit indexing lands.
  for (int i = 0; i < n; ++i) {
    const PlanValue &v = fn->values[i];
    const std::vector<int64_t> &shape = sh.values[i];
    if (numel(shape) > std::numeric_limits<int32_t>::max()) {
      std::string values;
      for (const std::string &name : fn->syms)
        values += (values.empty() ? "" : ", ") + name + " = " +
                  std::to_string(syms.at(name));
      throw RuntimeError(
          source + ": at " + values + " " +
          (v.name.empty() ? "a buffer" : "'" + v.name + "'") + " would be " +
          formatShape(shape) + ", " + std::to_string(numel(shape)) +
          " elements, more than the 2^31 - 1 the kernels can index; use a "
          "smaller batch or sequence");
    }
  }

  // Inputs and parameters, converted to the kernel's element type.
  std::vector<std::vector<uint8_t>> owned(n);
  std::vector<void *> data(n, nullptr);
  for (int i = 0; i < n; ++i) {
    const PlanValue &v = fn->values[i];
    if (v.kind != PlanValue::Input && v.kind != PlanValue::Param)
      continue;
    const char *what = v.kind == PlanValue::Param ? "parameter" : "input";
    const std::vector<int64_t> &want = sh.values[i];
    const TensorData *t = in.find(v.name);
    if (!t && v.kind == PlanValue::Param && packedOnly.count(v.name))
      continue; // its calls read the packed copy
    if (!t)
      throw RuntimeError(source + ": missing " + what + " '" + v.name + "' (" +
                         formatShape(want) + ")");
    bool isInt = t->dtype == DType::I32 || t->dtype == DType::I64;
    bool wantInt = v.dtype == "i32";
    if (wantInt != isInt && !(isInt && want.empty()))
      throw RuntimeError(source + ": tensor '" + v.name + "' is " +
                         t->typeStr() + " but the model expects " +
                         (wantInt ? "integer ids (I32 or I64)" : "floats") +
                         " of shape " + formatShape(want));
    if (t->shape != want)
      throw RuntimeError(source + ": tensor '" + v.name + "' has shape " +
                         t->typeStr() + " but the model expects " +
                         formatShape(want));
    std::vector<uint8_t> &bytes = owned[i];
    int64_t count = numel(want);
    if ((t->dtype == DType::F32 && !wantInt) ||
        (t->dtype == DType::I32 && wantInt)) {
      // Kernels only read inputs (unless donated): use the file's bytes in
      // place.
      data[i] = const_cast<uint8_t *>(t->bytes.data());
      continue;
    }
    bytes.resize(count * 4);
    {
      std::vector<double> vals = t->toDoubles();
      for (int64_t k = 0; k < count; ++k) {
        if (wantInt) {
          int32_t x = static_cast<int32_t>(vals[k]);
          std::memcpy(&bytes[k * 4], &x, 4);
        } else {
          float x = static_cast<float>(vals[k]);
          std::memcpy(&bytes[k * 4], &x, 4);
        }
      }
    }
    data[i] = bytes.data();
  }

  // What the model requires of its dims (asserts, slice bounds).
  for (const PlanRequire &r : fn->requirements)
    if (!r.holds(syms)) {
      std::string values;
      for (const std::string &name : fn->syms)
        values += (values.empty() ? "" : ", ") + name + " = " +
                  std::to_string(syms.at(name));
      throw RuntimeError(source + ": the model requires " + r.lhs.str() + " " +
                         r.rel + " " + r.rhs.str() + ", but " + values + " (" +
                         r.message + ")");
    }

  // Run-time checks: ids within their table, lengths within the context.
  for (const PlanCheck &c : fn->checks) {
    if (c.ids) {
      const PlanValue &v = fn->values[c.value];
      const int32_t *ids = static_cast<const int32_t *>(data[c.value]);
      int64_t count = numel(sh.values[c.value]);
      for (int64_t k = 0; k < count; ++k)
        if ((ids[k] < 0 || ids[k] >= c.limit) && ids[k] != c.except)
          throw RuntimeError(
              source + ": '" + v.name + "' holds id " + std::to_string(ids[k]) +
              " at element " + std::to_string(k) + ", outside the table of " +
              std::to_string(c.limit) + " rows" +
              (c.except ? " (and not " + std::to_string(*c.except) + ")" : ""));
    } else if (int64_t d = c.dim.eval(syms); d > c.limit) {
      throw RuntimeError(source + ": sequence length " + c.dim.str() + " = " +
                         std::to_string(d) + " exceeds the model's context " +
                         "of " + std::to_string(c.limit));
    }
  }

  // On a device, inputs and parameters go to device memory.
  if (Device *dev = options.device.get())
    for (int i = 0; i < n; ++i) {
      const PlanValue &v = fn->values[i];
      if (v.kind != PlanValue::Input && v.kind != PlanValue::Param)
        continue;
      int64_t bytes =
          numel(sh.values[i]) * static_cast<int64_t>(planDtypeSize(v.dtype));
      DeviceInput &d = deviceBuffer(v.name, bytes);
      bool keep = resident && resident(v.name);
      if (!keep || !d.uploaded)
        dev->upload(d.ptr, data[i], bytes);
      d.uploaded = true;
      data[i] = d.ptr;
    }
  // Outputs the caller has buffers for: a temporary of their own is
  // computed there, outside the arena; any other is copied there at the end.
  std::vector<void *> outside(n, nullptr);
  std::vector<std::pair<int, void *>> copyTo;
  std::set<std::string> delivered;
  if (outputBuffer && !options.device)
    for (auto &[name, v] : fn->outputs) {
      const PlanValue &pv = fn->values[v];
      void *dest =
          outputBuffer(name, numel(sh.values[v]) * planDtypeSize(pv.dtype));
      if (!dest)
        continue;
      delivered.insert(name);
      if (pv.kind == PlanValue::Temp && !outside[v])
        outside[v] = dest;
      else
        copyTo.push_back({v, dest});
    }
  if (donate && !options.device)
    for (int i = 0; i < n; ++i)
      if (int d = fn->values[i].over; d >= 0 && !outside[i] && data[d])
        outside[i] = data[d];

  // The arena, kept from run to run so its pages are faulted in once.
  std::vector<bool> elsewhere(n);
  for (int i = 0; i < n; ++i)
    elsewhere[i] = outside[i] != nullptr;
  if (sh.elsewhere != elsewhere) {
    sh.arena = planArena(*fn, syms, elsewhere);
    sh.elsewhere = elsewhere;
  }
  const ArenaPlan &arena = sh.arena;
  arenas[function] = arena.bytes;
  uint8_t *base = reserveArena(arena.bytes, function);
  for (int i = 0; i < n; ++i)
    if (fn->values[i].kind == PlanValue::Temp)
      data[i] = outside[i] ? outside[i] : base + arena.offsets[i];
  for (int i = 0; i < n; ++i)
    if (fn->values[i].kind == PlanValue::View) {
      int b = i;
      while (fn->values[b].kind == PlanValue::View)
        b = fn->values[b].base;
      data[i] = data[b];
    }

  // A value's bytes, copied out whole (from the device when there is one).
  auto copyOut = [&](int v) {
    const PlanValue &pv = fn->values[v];
    TensorData t;
    t.dtype = pv.dtype == "i32"  ? DType::I32
              : pv.dtype == "u8" ? DType::U8
                                 : DType::F32;
    t.shape = sh.values[v];
    t.bytes.resize(numel(t.shape) * planDtypeSize(pv.dtype));
    if (options.device)
      options.device->download(t.bytes.data(), data[v],
                               static_cast<int64_t>(t.bytes.size()));
    else
      std::memcpy(t.bytes.data(), data[v], t.bytes.size());
    return t;
  };

  // The outputs each call completes (the last call writing their buffer),
  // for outputReady.
  std::vector<std::vector<std::pair<std::string, int>>> completes(
      fn->calls.size());
  if (outputReady) {
    std::vector<int> done = fn->completingCalls();
    for (size_t i = 0; i < fn->outputs.size(); ++i)
      if (done[i] >= 0 && fn->values[fn->outputs[i].second].dtype == "f32")
        completes[done[i]].push_back(fn->outputs[i]);
  }

  // The calls.
  std::vector<int32_t> symArgs;
  for (const std::string &s : fn->syms)
    symArgs.push_back(static_cast<int32_t>(syms.at(s)));
  uint32_t rng[5] = {static_cast<uint32_t>(options.seed),
                     static_cast<uint32_t>(options.seed >> 32),
                     static_cast<uint32_t>(step), slice.firstRow,
                     std::max<uint32_t>(1, slice.rows)};
  std::vector<halide_buffer_t> bufs;
  std::vector<void *> argv;
  for (size_t c = 0; c < fn->calls.size(); ++c) {
    const PlanCall &call = fn->calls[c];
    const PlanKernel &k = plan.kernels[call.kernel];
    bufs.assign(call.args.size(), halide_buffer_t{});
    for (size_t a = 0; a < call.args.size(); ++a) {
      Shapes::Arg &arg = sh.args[c][a];
      halide_buffer_t &b = bufs[a];
      b.type = arg.type;
      b.dimensions = static_cast<int32_t>(arg.dims.size());
      b.dim = arg.dims.data();
      if (arg.packed)
        b.host = static_cast<uint8_t *>(arg.packed);
      else if (options.device)
        options.device->bind(b, data[call.args[a].value]);
      else
        b.host = static_cast<uint8_t *>(data[call.args[a].value]);
    }
    // Halide's argument order: inputs, scalars, outputs.
    argv.clear();
    for (size_t a = 0; a < call.firstOutput; ++a)
      argv.push_back(&bufs[a]);
    if (k.takesSyms)
      for (int32_t &s : symArgs)
        argv.push_back(&s);
    if (k.takesRng)
      for (uint32_t &r : rng)
        argv.push_back(&r);
    for (const int32_t &s : call.scalars)
      argv.push_back(const_cast<int32_t *>(&s));
    for (size_t a = call.firstOutput; a < bufs.size(); ++a)
      argv.push_back(&bufs[a]);

    auto start = std::chrono::steady_clock::now();
    int rc = entries[call.kernel](argv.data());
    if (options.device) {
      for (halide_buffer_t &b : bufs)
        options.device->unbind(b);
      if (options.profile && rc == 0)
        options.device->synchronize(); // kernel time, not launch time
    }
    if (rc != 0)
      throw RuntimeError("kernel " + k.symbol + " (" + k.family +
                         ") failed: " + halideMessage);
    if (options.profile) {
      Stat &s = stats[call.kernel];
      s.seconds += std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
      s.flops += static_cast<double>(call.flops.eval(syms));
      s.calls += 1;
    }
    for (auto &[name, v] : completes[c])
      outputReady(name, static_cast<const float *>(data[v]),
                  numel(sh.values[v]));
    if (options.trace) {
      std::vector<TensorData> written;
      for (size_t a = call.firstOutput; a < call.args.size(); ++a)
        written.push_back(copyOut(call.args[a].value));
      options.trace(function, c, std::move(written));
    }
  }

  if (Device *dev = options.device.get(); dev && feedBack && resident)
    for (auto &[name, v] : fn->outputs) {
      auto it = deviceInputs.find(name);
      if (it == deviceInputs.end() || !resident(name) || !it->second.uploaded)
        continue;
      int64_t bytes = numel(sh.values[v]) * 4;
      if (bytes == it->second.bytes)
        dev->copy(it->second.ptr, data[v], bytes);
    }
  for (auto &[v, dest] : copyTo)
    std::memcpy(dest, data[v],
                numel(sh.values[v]) * planDtypeSize(fn->values[v].dtype));
  std::map<std::string, TensorData> out;
  for (auto &[name, v] : fn->outputs) {
    if ((keep && !keep(name)) || delivered.count(name))
      continue;
    out[name] = copyOut(v);
  }
  return out;
}

std::map<std::string, std::string>
Executor::donatable(const std::string &function) const {
  std::map<std::string, std::string> over;
  if (const PlanFunction *fn = plan.find(function))
    for (auto &[name, v] : fn->outputs)
      if (int d = fn->values[v].over; d >= 0)
        over[name] = fn->values[d].name;
  return over;
}

Executor::DeviceInput &Executor::deviceBuffer(const std::string &name,
                                              int64_t bytes) {
  DeviceInput &d = deviceInputs[name];
  if (d.bytes != bytes) {
    if (d.ptr)
      options.device->release(d.ptr);
    d.ptr =
        options.device->allocate(std::max<int64_t>(bytes, 4), "'" + name + "'");
    d.bytes = bytes;
    d.uploaded = false;
  }
  return d;
}

void *Executor::deviceInput(const std::string &name, int64_t bytes) {
  if (!options.device)
    throw RuntimeError("deviceInput('" + name + "') without a device");
  DeviceInput &d = deviceBuffer(name, bytes);
  d.uploaded = true;
  return d.ptr;
}

std::unique_ptr<TensorData> Executor::fetch(const std::string &name) const {
  auto it = deviceInputs.find(name);
  if (!options.device || it == deviceInputs.end() || !it->second.uploaded)
    return nullptr;
  auto t = std::make_unique<TensorData>();
  t->bytes.resize(static_cast<size_t>(it->second.bytes));
  options.device->download(t->bytes.data(), it->second.ptr, it->second.bytes);
  return t;
}

void Executor::printProfile(std::ostream &os) const {
  std::vector<size_t> order;
  double total = 0;
  for (size_t i = 0; i < stats.size(); ++i)
    if (stats[i].calls) {
      order.push_back(i);
      total += stats[i].seconds;
    }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return stats[a].seconds > stats[b].seconds;
  });
  os << "profile: " << std::fixed << std::setprecision(3) << total * 1e3
     << " ms in kernels; arena" << std::setprecision(1);
  for (auto &[function, bytes] : arenas)
    os << " " << function << " " << static_cast<double>(bytes) / (1 << 20)
       << " MiB";
  os << "\n";
  // Columns are separated by at least one space, whatever the widths.
  os << "  kernel            family          calls         ms   share   "
        "GFLOP/s\n";
  for (size_t i : order) {
    const Stat &s = stats[i];
    os << "  " << std::left << std::setw(17) << plan.kernels[i].symbol << " "
       << std::setw(14) << plan.kernels[i].family << " " << std::right
       << std::setw(6) << s.calls << " " << std::setw(10)
       << std::setprecision(3) << s.seconds * 1e3 << " " << std::setw(6)
       << std::setprecision(1) << (total > 0 ? 100 * s.seconds / total : 0)
       << "%";
    if (s.flops > 0)
      os << " " << std::setw(9) << std::setprecision(1)
         << s.flops / s.seconds / 1e9;
    os << "\n";
  }
}

} // namespace gptc
