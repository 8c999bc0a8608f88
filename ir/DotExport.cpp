//===- DotExport.cpp - A Graphviz picture of a gpt module -----------------===//
//
// Algorithm:
//  1. Give every function argument and gpt op a node; its cluster path comes
//     from the op's NameLoc (or the parameter's name), split at dots with
//     numeric parts kept with their parent (`h.3`, `h.3.attn`).
//  2. Build the cluster tree and print it depth first, so Graphviz draws
//     each layer, and each attention and MLP inside it, as a box.
//  3. Add an edge per tensor operand; index arithmetic (tensor.dim, arith)
//     is bookkeeping and left out.
//
//===----------------------------------------------------------------------===//

#include "gptc/IR/DotExport.h"
#include "gptc/IR/GptOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <map>
#include <memory>

using namespace mlir;

namespace gptc {

namespace {

/// `h.3.attn.c_attn` -> {"h.3", "h.3.attn", "h.3.attn.c_attn"}.
std::vector<std::string> clusterPath(StringRef scope) {
  std::vector<std::string> out;
  SmallVector<StringRef> parts;
  scope.split(parts, '.');
  std::string cur;
  for (StringRef p : parts) {
    bool numeric = !p.empty() && llvm::all_of(p, llvm::isDigit);
    cur += (cur.empty() ? "" : ".") + p.str();
    if (numeric && !out.empty())
      out.back() = cur;
    else
      out.push_back(cur);
  }
  return out;
}

std::string scopeOf(Location loc) {
  if (auto n = dyn_cast<NameLoc>(loc))
    return n.getName().str();
  return "";
}

std::string escape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

std::string shapeLabel(Type t) {
  auto r = dyn_cast<RankedTensorType>(t);
  if (!r)
    return "";
  std::string s = "[";
  for (int64_t i = 0; i < r.getRank(); ++i)
    s += (i ? "," : "") + (r.isDynamicDim(i) ? std::string("?")
                                             : std::to_string(r.getDimSize(i)));
  return s + "]";
}

struct Cluster {
  std::string name;
  std::vector<std::string> nodes; ///< Node statements.
  std::map<std::string, std::unique_ptr<Cluster>> children;
};

class DotWriter {
public:
  explicit DotWriter(llvm::raw_ostream &os) : os(os) {}

  void module(ModuleOp m) {
    os << "digraph gpt {\n"
       << "  rankdir=TB;\n"
       << "  node [fontname=\"Helvetica\", fontsize=10, shape=box, "
          "style=\"rounded,filled\", fillcolor=\"#e8eef7\"];\n"
       << "  edge [color=\"#555555\", arrowsize=0.6];\n";
    for (auto f : m.getOps<func::FuncOp>())
      function(f);
    os << "}\n";
  }

private:
  void function(func::FuncOp f) {
    std::string prefix = f.getName().str() + "_";
    Cluster root;
    root.name = f.getName().str();
    llvm::DenseMap<Value, std::string> ids;
    auto place = [&](const std::string &scope, std::string stmt) {
      Cluster *c = &root;
      if (!scope.empty())
        for (const std::string &level : clusterPath(scope)) {
          auto &child = c->children[level];
          if (!child) {
            child = std::make_unique<Cluster>();
            child->name = level;
          }
          c = child.get();
        }
      c->nodes.push_back(std::move(stmt));
    };
    Block &body = f.getBody().front();
    for (unsigned i = 0; i < f.getNumArguments(); ++i) {
      std::string id = prefix + "arg" + std::to_string(i);
      ids[body.getArgument(i)] = id;
      Type t = body.getArgument(i).getType();
      if (auto p = f.getArgAttrOfType<StringAttr>(i, "gpt.param")) {
        StringRef name = p.getValue();
        std::string scope =
            name.contains('.') ? name.rsplit('.').first.str() : std::string();
        place(scope,
              id + " [label=\"" + escape(name.str()) + "\\n" + shapeLabel(t) +
                  "\", shape=box, style=filled, fillcolor=\"#fff4d6\"];");
      } else {
        auto in = f.getArgAttrOfType<StringAttr>(i, "gpt.input");
        place("", id + " [label=\"" + escape(in ? in.str() : "arg") + "\\n" +
                      shapeLabel(t) +
                      "\", shape=ellipse, fillcolor=\"#d9f2d9\"];");
      }
    }
    int n = 0;
    std::vector<std::string> edges;
    for (Operation &op : body) {
      if (!isa<gpt::GptDialect>(op.getDialect()) && !isa<func::ReturnOp>(op))
        continue;
      std::string id = prefix + "op" + std::to_string(n++);
      if (isa<func::ReturnOp>(op)) {
        place("", id + " [label=\"return\", shape=ellipse, "
                       "fillcolor=\"#f7d9d9\"];");
      } else {
        ids[op.getResult(0)] = id;
        std::string label = op.getName().stripDialect().str();
        if (isa<gpt::MatmulOp>(op))
          label = "matmul";
        place(scopeOf(op.getLoc()),
              id + " [label=\"" + label + "\\n" +
                  shapeLabel(op.getResult(0).getType()) + "\"" +
                  (isa<gpt::MatmulOp>(op) ? ", fillcolor=\"#c9daf0\"" : "") +
                  "];");
      }
      for (Value v : op.getOperands())
        if (auto it = ids.find(v); it != ids.end())
          edges.push_back(it->second + " -> " + id + ";");
    }
    print(root, prefix, 1, /*isFunction=*/true);
    for (auto &e : edges)
      os << "  " << e << "\n";
  }

  void print(const Cluster &c, const std::string &prefix, int depth,
             bool isFunction) {
    std::string pad(2 * depth, ' ');
    std::string id = prefix + c.name;
    for (char &ch : id)
      if (!isalnum(static_cast<unsigned char>(ch)))
        ch = '_';
    os << pad << "subgraph cluster_" << id << " {\n"
       << pad << "  label=\"" << escape(isFunction ? "@" + c.name : c.name)
       << "\";\n"
       << pad << "  style=\"rounded\"; color=\"#9aa7b8\";\n";
    for (auto &s : c.nodes)
      os << pad << "  " << s << "\n";
    for (auto &[name, child] : c.children)
      print(*child, prefix, depth + 1, false);
    os << pad << "}\n";
  }

  llvm::raw_ostream &os;
};

} // namespace

void exportDot(ModuleOp module, llvm::raw_ostream &os) {
  DotWriter(os).module(module);
}

} // namespace gptc
