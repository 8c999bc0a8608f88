//===- Reports.cpp - Human-readable summaries printed by gptc -------------===//

#include "Reports.h"

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <set>

namespace gptc {

std::string groupDigits(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

/// `value` scaled by powers of `base` into the largest fitting unit.
static std::string scaled(double value, double base,
                          std::initializer_list<const char *> units,
                          int decimals) {
  auto unit = units.begin();
  while (value >= base && unit + 1 != units.end()) {
    value /= base;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f %s", decimals, value, *unit);
  return buf;
}

std::string formatBytes(double b) {
  return scaled(b, 1024, {"B", "KiB", "MiB", "GiB", "TiB"}, 1);
}

void printParamTable(std::ostream &os, const Program &prog) {
  size_t wName = 4, wShape = 5, wInit = 4;
  for (auto &p : prog.params) {
    wName = std::max(wName, p.name.size());
    wShape = std::max(wShape, shapeStr(p.type.shape).size());
    wInit = std::max(wInit, p.init.str().size());
  }
  auto row = [&](const std::string &a, const std::string &b,
                 const std::string &c, const std::vector<std::string> &rest) {
    os << std::left << std::setw(wName + 2) << a << std::setw(wShape + 2) << b
       << std::setw(wInit + (rest.empty() ? 0 : 2)) << c;
    for (size_t i = 0; i < rest.size(); ++i)
      os << rest[i] << (i + 1 < rest.size() ? "  " : "");
    os << "\n";
  };
  std::vector<std::string> header(prog.namingSchemes.begin(),
                                  prog.namingSchemes.end());
  os << "# ";
  wName -= 2;
  row("name", "shape", "init", header);
  wName += 2;
  for (auto &p : prog.params) {
    std::vector<std::string> mapped;
    for (auto &s : prog.namingSchemes)
      mapped.push_back(p.mappedNames.at(s));
    row(p.name, shapeStr(p.type.shape), p.init.str(), mapped);
  }
  os << "# " << prog.params.size() << " tensors, "
     << groupDigits(prog.numParameters()) << " parameters\n";
}

static const char *opSpelling(ast::BinaryOp op) { return ast::spelling(op); }

void printInfo(std::ostream &os, const Program &prog,
               const std::string &modelPath, const std::string &configPath) {
  os << "model:  " << modelPath << "\n";
  os << "config: " << (configPath.empty() ? "(defaults)" : configPath) << "\n";
  size_t w = 0;
  for (auto &c : prog.config)
    w = std::max(w, c.name.size());
  for (auto &c : prog.config)
    os << "  " << std::left << std::setw(w + 2) << c.name << c.str()
       << (c.fromDefault ? "  (default)" : "") << "\n";

  os << "\nentry points:\n";
  for (auto &e : prog.entries) {
    os << "  " << e.name << "(";
    for (size_t i = 0; i < e.inputs.size(); ++i) {
      const Node &n = e.nodes[e.inputs[i]];
      os << (i ? ", " : "") << std::get<std::string>(n.attrs[0].second) << ": "
         << n.type.str();
    }
    os << ") -> " << e.nodes[e.result].type.str() << "   "
       << groupDigits(static_cast<int64_t>(e.nodes.size())) << " ops\n";
    for (auto &c : e.checks)
      os << "    requires " << c.lhs.str() << " " << opSpelling(c.op) << " "
         << c.rhs.str() << "\n";
  }

  // Group parameters by their first name component; `h.<i>.` groups count
  // the repeated blocks.
  struct Group {
    std::string name;
    int64_t count = 0;
    std::set<std::string> blocks;
  };
  std::vector<Group> groups;
  for (auto &p : prog.params) {
    std::string first = p.name.substr(0, p.name.find('.'));
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const Group &g) { return g.name == first; });
    if (it == groups.end()) {
      groups.push_back({first, 0, {}});
      it = groups.end() - 1;
    }
    it->count += p.type.numElements().coeff;
    size_t dot = p.name.find('.');
    if (dot != std::string::npos) {
      std::string second =
          p.name.substr(dot + 1, p.name.find('.', dot + 1) - dot - 1);
      if (!second.empty() &&
          second.find_first_not_of("0123456789") == std::string::npos)
        it->blocks.insert(second);
    }
  }
  int64_t total = prog.numParameters();
  os << "\nparameters: " << groupDigits(total) << " in " << prog.params.size()
     << " tensors (" << formatBytes(4.0 * total) << " as f32)\n";
  size_t gw = 0;
  for (auto &g : groups)
    gw = std::max(gw, g.name.size());
  for (auto &g : groups) {
    char pct[16];
    std::snprintf(pct, sizeof pct, "%5.1f%%",
                  total ? 100.0 * g.count / total : 0.0);
    os << "  " << std::left << std::setw(gw + 2) << g.name << std::right
       << std::setw(14) << groupDigits(g.count) << "  " << pct;
    if (g.blocks.size() > 1)
      os << "  (" << g.blocks.size() << " blocks x "
         << groupDigits(g.count / static_cast<int64_t>(g.blocks.size())) << ")";
    os << "\n";
  }
  os << "training state (parameters, gradients, AdamW moments, f32): "
     << formatBytes(16.0 * total) << "\n";
}

static std::string flops(double f) {
  return scaled(f, 1000, {"FLOP", "KFLOP", "MFLOP", "GFLOP", "TFLOP"}, 2);
}

void printCost(std::ostream &os, const std::string &entry, const Cost &c,
               int64_t tokens) {
  double total = c.matmulFlops + c.otherFlops;
  auto line = [&](const char *what, const std::string &value) {
    os << "    " << std::left << std::setw(44) << what << value << "\n";
  };
  os << "  @" << entry << ":\n";
  bool training = entry == "loss_grad" || entry == "train_step";
  line(entry == "train_step"  ? "FLOPs per token (with AdamW)"
       : entry == "loss_grad" ? "FLOPs per token (forward + backward)"
                              : "FLOPs per token (forward)",
       flops(total / tokens) + "  (matmul " + flops(c.matmulFlops / tokens) +
           ")");
  if (training) {
    if (entry == "loss_grad")
      line("saved activations (read by the backward)",
           formatBytes(static_cast<double>(c.savedBytes)));
    line("peak live tensors",
         formatBytes(static_cast<double>(c.peakLiveBytes)));
    return;
  }
  line("peak live activations",
       formatBytes(static_cast<double>(c.peakLiveBytes)));
  line("attention weights [B, H, T, T]",
       formatBytes(static_cast<double>(c.attentionBytes)));
}

} // namespace gptc
