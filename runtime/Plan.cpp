//===- Plan.cpp - Parsing the host program and planning its arena ---------===//

#include "gptc/Runtime/Plan.h"
#include "gptc/Support/Error.h"

#include <algorithm>
#include <sstream>

namespace gptc {

namespace {

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

int64_t toInt(const std::string &s) {
  size_t used = 0;
  long long v = std::stoll(s, &used);
  if (used != s.size())
    throw RuntimeError("expected an integer, got '" + s + "'");
  return v;
}

SymShape parseShape(const std::string &s) {
  SymShape shape;
  if (s == "-")
    return shape;
  for (const std::string &d : split(s, ','))
    shape.push_back(SymExpr::parse(d));
  return shape;
}

} // namespace

SymExpr SymExpr::parse(const std::string &text) {
  SymExpr e;
  for (const std::string &term : split(text, '+')) {
    Term t;
    for (const std::string &f : split(term, '*')) {
      if (f.empty())
        throw RuntimeError("malformed size '" + text + "'");
      if (std::isdigit(static_cast<unsigned char>(f[0])))
        t.coeff *= toInt(f);
      else
        t.syms.push_back(f);
    }
    e.terms.push_back(t);
  }
  return e;
}

int64_t SymExpr::eval(const SymValues &values) const {
  int64_t sum = 0;
  for (const Term &t : terms) {
    int64_t p = t.coeff;
    for (const std::string &s : t.syms) {
      auto it = values.find(s);
      if (it == values.end())
        throw RuntimeError("the size '" + str() + "' needs '" + s +
                           "', which no input gives");
      p *= it->second;
    }
    sum += p;
  }
  return sum;
}

std::string SymExpr::str() const {
  std::string s;
  for (const Term &t : terms) {
    if (!s.empty())
      s += "+";
    std::string m =
        t.coeff == 1 && !t.syms.empty() ? "" : std::to_string(t.coeff);
    for (const std::string &x : t.syms)
      m += (m.empty() ? "" : "*") + x;
    s += m;
  }
  return s;
}

size_t planDtypeSize(const std::string &dtype) { return dtype == "u8" ? 1 : 4; }

namespace {

std::string shapeText(const SymShape &s) {
  if (s.empty())
    return "-";
  std::string r;
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "," : "") + s[i].str();
  return r;
}

void writeValue(std::ostream &os, const PlanFunction &fn, size_t id) {
  const PlanValue &v = fn.values[id];
  os << "value " << id << " ";
  switch (v.kind) {
  case PlanValue::Input:
    os << "input " << v.name;
    break;
  case PlanValue::Param:
    os << "param " << v.name;
    break;
  case PlanValue::Temp:
    os << "temp";
    if (v.over >= 0)
      os << " over " << v.over;
    break;
  case PlanValue::View:
    os << "view " << v.base;
    break;
  }
  os << " " << v.dtype << " " << shapeText(v.shape) << "\n";
  for (const PlanFunction::Bind &b : fn.binds)
    if (b.value == static_cast<int>(id))
      os << "bind " << b.sym << " " << b.value << " " << b.dim << "\n";
}

} // namespace

std::string Plan::serialize() const {
  std::ostringstream os;
  os << "gptc-plan 1\n";
  for (size_t i = 0; i < kernels.size(); ++i) {
    const PlanKernel &k = kernels[i];
    os << "kernel " << i << " " << k.symbol << " " << k.family
       << (k.takesSyms ? " syms" : "") << (k.takesRng ? " rng" : "");
    if (k.outputs > 1)
      os << " outs=" << k.outputs;
    os << "\n";
  }
  for (const PlanFunction &fn : functions) {
    os << "function " << fn.name << "\n";
    for (const std::string &s : fn.syms)
      os << "sym " << s << "\n";
    size_t declared = 0;
    for (const PlanCall &c : fn.calls) {
      int last = -1;
      for (const PlanArg &a : c.args)
        last = std::max(last, a.value);
      for (; static_cast<int>(declared) <= last; ++declared)
        writeValue(os, fn, declared);
      os << "call " << c.kernel << " " << c.flops.str();
      for (const PlanArg &a : c.args)
        os << " " << a.value << ":" << shapeText(a.shape);
      for (int32_t s : c.scalars)
        os << " #" << s;
      os << "\n";
    }
    for (; declared < fn.values.size(); ++declared)
      writeValue(os, fn, declared);
    for (auto &[name, id] : fn.outputs)
      os << "output " << name << " " << id << "\n";
    for (const PlanCheck &c : fn.checks) {
      if (c.ids)
        os << "check ids " << c.value << " " << c.limit
           << (c.except ? " except " + std::to_string(*c.except) : "") << "\n";
      else
        os << "check dim " << c.dim.str() << " " << c.limit << "\n";
    }
    for (const PlanRequire &r : fn.requirements)
      os << "require " << r.lhs.str() << " " << r.rel << " " << r.rhs.str()
         << " " << r.message << "\n";
    if (!fn.unsliceable.empty())
      os << "unsliceable " << fn.unsliceable << "\n";
    os << "end\n";
  }
  for (const PlanInit &i : inits) {
    os << "init " << i.param << " " << i.kind;
    if (i.kind == "normal" || i.kind == "uniform")
      os << " " << i.scale;
    os << "\n";
  }
  for (const PlanMerge &m : merges)
    os << "merge " << m.target << " " << m.a << " " << m.b << " " << m.scale
       << "\n";
  for (auto &[scheme, names] : renames)
    for (auto &[param, name] : names)
      os << "rename " << scheme << " " << param << " " << name << "\n";
  for (auto &[key, value] : config)
    os << "config " << key << " " << value << "\n";
  for (const PlanMeta &m : meta)
    os << "meta " << m.scheme << " " << m.key << " "
       << (m.config.empty() ? "-" : m.config) << " " << m.json << "\n";
  if (target != "cpu")
    os << "target " << target << "\n";
  if (precision != "f32")
    os << "precision " << precision << "\n";
  if (!cpuFeatures.empty()) {
    os << "cpu-features";
    for (const std::string &f : cpuFeatures)
      os << " " << f;
    os << "\n";
  }
  return os.str();
}

Plan Plan::parse(const std::string &text) {
  Plan plan;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  PlanFunction *fn = nullptr;
  while (std::getline(in, line)) {
    ++number;
    try {
      std::vector<std::string> w = split(line, ' ');
      auto need = [&](size_t n) {
        if (w.size() < n)
          throw RuntimeError("expected " + std::to_string(n) + " fields");
      };
      if (number == 1) {
        if (line != "gptc-plan 1")
          throw RuntimeError("expected the header 'gptc-plan 1'");
        continue;
      }
      if (line.empty())
        continue;
      const std::string &kw = w[0];
      if (kw == "kernel") {
        need(4);
        PlanKernel k;
        k.symbol = w[2];
        k.family = w[3];
        for (size_t i = 4; i < w.size(); ++i) {
          k.takesSyms |= w[i] == "syms";
          k.takesRng |= w[i] == "rng";
          if (w[i].rfind("outs=", 0) == 0)
            k.outputs = static_cast<int>(toInt(w[i].substr(5)));
        }
        if (k.outputs < 1)
          throw RuntimeError("a kernel needs at least one output");
        if (toInt(w[1]) != static_cast<int64_t>(plan.kernels.size()))
          throw RuntimeError("kernels must be numbered in order");
        plan.kernels.push_back(k);
      } else if (kw == "init") {
        need(3);
        PlanInit init{w[1], w[2], 0};
        if (init.kind == "normal" || init.kind == "uniform") {
          need(4);
          init.scale = std::stod(w[3]);
        } else if (init.kind != "zeros" && init.kind != "ones") {
          throw RuntimeError("unknown initializer '" + init.kind + "'");
        }
        plan.inits.push_back(init);
      } else if (kw == "merge") {
        need(5);
        plan.merges.push_back({w[1], w[2], w[3], std::stod(w[4])});
      } else if (kw == "rename") {
        need(4);
        plan.renames[w[1]][w[2]] = w[3];
      } else if (kw == "config") {
        need(3);
        plan.config[w[1]] = w[2];
      } else if (kw == "meta") {
        // The JSON value is the rest of the line (strings may hold spaces).
        need(5);
        std::istringstream fields(line);
        std::string skip;
        for (int i = 0; i < 4; ++i)
          fields >> skip;
        std::string json;
        std::getline(fields >> std::ws, json);
        plan.meta.push_back({w[1], w[2], w[3] == "-" ? "" : w[3], json});
      } else if (kw == "precision") {
        need(2);
        if (w[1] != "f32" && w[1] != "bf16")
          throw RuntimeError("unknown precision '" + w[1] + "'");
        plan.precision = w[1];
      } else if (kw == "cpu-features") {
        plan.cpuFeatures.assign(w.begin() + 1, w.end());
      } else if (kw == "target") {
        need(2);
        if (w[1] != "cpu" && w[1] != "cuda")
          throw RuntimeError("unknown target '" + w[1] + "'");
        plan.target = w[1];
      } else if (kw == "function") {
        need(2);
        plan.functions.emplace_back();
        fn = &plan.functions.back();
        fn->name = w[1];
      } else if (!fn) {
        throw RuntimeError("'" + kw + "' outside a function");
      } else if (kw == "sym") {
        need(2);
        fn->syms.push_back(w[1]);
      } else if (kw == "bind") {
        need(4);
        fn->binds.push_back({w[1], static_cast<int>(toInt(w[2])),
                             static_cast<int>(toInt(w[3]))});
      } else if (kw == "value") {
        need(5);
        if (toInt(w[1]) != static_cast<int64_t>(fn->values.size()))
          throw RuntimeError("values must be numbered in order");
        PlanValue v;
        size_t i = 3;
        if (w[2] == "input" || w[2] == "param") {
          v.kind = w[2] == "input" ? PlanValue::Input : PlanValue::Param;
          v.name = w[i++];
        } else if (w[2] == "view") {
          v.kind = PlanValue::View;
          v.base = static_cast<int>(toInt(w[i++]));
        } else if (w[2] != "temp") {
          throw RuntimeError("unknown value kind '" + w[2] + "'");
        } else if (w.size() > 3 && w[3] == "over") {
          need(5);
          v.over = static_cast<int>(toInt(w[4]));
          i = 5;
          if (v.over < 0 || v.over >= static_cast<int>(fn->values.size()) ||
              (fn->values[v.over].kind != PlanValue::Input &&
               fn->values[v.over].kind != PlanValue::Param))
            throw RuntimeError("value " + w[1] + " is over value " + w[4] +
                               ", which is not an earlier input or parameter");
        }
        need(i + 2);
        v.dtype = w[i];
        v.shape = parseShape(w[i + 1]);
        fn->values.push_back(v);
      } else if (kw == "call") {
        need(4);
        PlanCall c;
        c.kernel = static_cast<int>(toInt(w[1]));
        if (c.kernel < 0 || c.kernel >= static_cast<int>(plan.kernels.size()))
          throw RuntimeError("unknown kernel " + w[1]);
        c.flops = SymExpr::parse(w[2]);
        for (size_t i = 3; i < w.size(); ++i) {
          if (w[i][0] == '#') {
            c.scalars.push_back(static_cast<int32_t>(toInt(w[i].substr(1))));
            continue;
          }
          size_t colon = w[i].find(':');
          if (colon == std::string::npos)
            throw RuntimeError("expected VALUE:SHAPE, got '" + w[i] + "'");
          PlanArg a;
          a.value = static_cast<int>(toInt(w[i].substr(0, colon)));
          if (a.value < 0 || a.value >= static_cast<int>(fn->values.size()))
            throw RuntimeError("unknown value " + w[i]);
          a.shape = parseShape(w[i].substr(colon + 1));
          c.args.push_back(a);
        }
        size_t outputs = plan.kernels[c.kernel].outputs;
        // A kernel may read no tensor (positions made from T alone).
        if (c.args.size() < outputs)
          throw RuntimeError("kernel " + w[1] + " writes " +
                             std::to_string(outputs) + " output(s)");
        c.firstOutput = c.args.size() - outputs;
        fn->calls.push_back(c);
      } else if (kw == "output") {
        need(3);
        fn->outputs.push_back({w[1], static_cast<int>(toInt(w[2]))});
      } else if (kw == "check") {
        need(4);
        PlanCheck c;
        c.ids = w[1] == "ids";
        if (c.ids)
          c.value = static_cast<int>(toInt(w[2]));
        else
          c.dim = SymExpr::parse(w[2]);
        c.limit = toInt(w[3]);
        if (c.ids && w.size() >= 6 && w[4] == "except")
          c.except = toInt(w[5]);
        fn->checks.push_back(c);
      } else if (kw == "require") {
        need(5);
        PlanRequire r;
        r.lhs = SymExpr::parse(w[1]);
        r.rel = w[2];
        r.rhs = SymExpr::parse(w[3]);
        static const char *kRels[] = {"<=", "<", ">=", ">", "==", "!="};
        if (std::find(std::begin(kRels), std::end(kRels), r.rel) ==
            std::end(kRels))
          throw RuntimeError("unknown relation '" + r.rel + "'");
        size_t at = 0;
        for (int field = 0; field < 4; ++field)
          at = line.find(' ', at) + 1;
        r.message = line.substr(at);
        fn->requirements.push_back(r);
      } else if (kw == "unsliceable") {
        need(2);
        fn->unsliceable = line.substr(line.find(' ') + 1);
      } else if (kw == "end") {
        fn = nullptr;
      } else {
        throw RuntimeError("unknown record '" + kw + "'");
      }
    } catch (const RuntimeError &e) {
      throw RuntimeError("plan line " + std::to_string(number) + ": " +
                         e.what());
    } catch (const std::exception &) {
      throw RuntimeError("plan line " + std::to_string(number) +
                         ": malformed record");
    }
  }
  return plan;
}

const PlanFunction *Plan::find(const std::string &name) const {
  for (const PlanFunction &f : functions)
    if (f.name == name)
      return &f;
  return nullptr;
}

std::vector<int> PlanFunction::completingCalls() const {
  auto baseOf = [&](int v) {
    while (values[v].kind == PlanValue::View)
      v = values[v].base;
    return v;
  };
  std::vector<int> lastWrite(values.size(), -1);
  for (size_t c = 0; c < calls.size(); ++c)
    for (size_t a = calls[c].firstOutput; a < calls[c].args.size(); ++a)
      lastWrite[baseOf(calls[c].args[a].value)] = static_cast<int>(c);
  std::vector<int> done;
  for (auto &[name, v] : outputs)
    done.push_back(lastWrite[baseOf(v)]);
  return done;
}

int64_t PlanFunction::contextLimit() const {
  int64_t limit = 0;
  auto tighten = [&](int64_t n) {
    if (n > 0 && (limit == 0 || n < limit))
      limit = n;
  };
  for (const PlanCheck &c : checks)
    if (!c.ids)
      tighten(c.limit);
  // T <= n and T < n bound the sequence too.
  for (const PlanRequire &r : requirements) {
    if (r.lhs.str() != "T" || r.rhs.terms.size() != 1 ||
        !r.rhs.terms[0].syms.empty())
      continue;
    int64_t n = r.rhs.terms[0].coeff;
    if (r.rel == "<=")
      tighten(n);
    else if (r.rel == "<")
      tighten(n - 1);
  }
  return limit;
}

std::string PlanFunction::nextTokenLogitsProblem() const {
  for (auto &[output, id] : outputs) {
    if (output != "logits")
      continue;
    const SymShape &s = values[id].shape;
    std::string shape = "[";
    for (size_t i = 0; i < s.size(); ++i)
      shape += (i ? ", " : "") + s[i].str();
    shape += "]";
    if (s.size() == 3 && s[0].str() == "B" && s[1].str() == "T" &&
        s[2].terms.size() == 1 && s[2].terms[0].syms.empty())
      return "";
    return "@" + name + " returns logits " + shape +
           ", not next-token logits [B, T, V] (a classifier?)";
  }
  return "@" + name + " has no output 'logits'";
}

bool PlanRequire::holds(const SymValues &syms) const {
  int64_t a = lhs.eval(syms), b = rhs.eval(syms);
  if (rel == "<=")
    return a <= b;
  if (rel == "<")
    return a < b;
  if (rel == ">=")
    return a >= b;
  if (rel == ">")
    return a > b;
  if (rel == "==")
    return a == b;
  return a != b;
}

ArenaPlan planArena(const PlanFunction &fn, const SymValues &syms,
                    const std::vector<bool> &elsewhere) {
  const int n = static_cast<int>(fn.values.size());
  const int end = static_cast<int>(fn.calls.size());
  std::vector<int> first(n, -1), last(n, -1);
  auto root = [&](int v) {
    while (fn.values[v].kind == PlanValue::View)
      v = fn.values[v].base;
    return v;
  };
  for (int c = 0; c < end; ++c) {
    const std::vector<PlanArg> &args = fn.calls[c].args;
    for (size_t i = fn.calls[c].firstOutput; i < args.size(); ++i) {
      int out = root(args[i].value);
      if (first[out] < 0)
        first[out] = c;
    }
    for (const PlanArg &a : args)
      last[root(a.value)] = std::max(last[root(a.value)], c);
  }
  for (auto &[name, v] : fn.outputs)
    last[root(v)] = end;

  ArenaPlan plan;
  plan.offsets.assign(n, -1);
  std::vector<int> temps;
  std::vector<int64_t> bytes(n, 0);
  for (int v = 0; v < n; ++v) {
    if (fn.values[v].kind != PlanValue::Temp ||
        (v < static_cast<int>(elsewhere.size()) && elsewhere[v]))
      continue;
    int64_t count = 1;
    for (const SymExpr &d : fn.values[v].shape)
      count *= d.eval(syms);
    // 64-byte alignment keeps every buffer on its own cache lines.
    bytes[v] =
        (count * static_cast<int64_t>(planDtypeSize(fn.values[v].dtype)) + 63) /
        64 * 64;
    plan.unshared += bytes[v];
    if (first[v] < 0)
      first[v] = last[v] = 0; // never written: still give it room
    temps.push_back(v);
  }
  std::stable_sort(temps.begin(), temps.end(),
                   [&](int a, int b) { return bytes[a] > bytes[b]; });
  std::vector<int> placed;
  for (int v : temps) {
    // Occupied ranges of overlapping lifetimes, by offset.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (int p : placed)
      if (first[p] <= last[v] && first[v] <= last[p])
        busy.push_back({plan.offsets[p], plan.offsets[p] + bytes[p]});
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (auto &[lo, hi] : busy) {
      if (lo >= offset + bytes[v])
        break;
      offset = std::max(offset, hi);
    }
    plan.offsets[v] = offset;
    plan.bytes = std::max(plan.bytes, offset + bytes[v]);
    placed.push_back(v);
  }
  return plan;
}

} // namespace gptc
