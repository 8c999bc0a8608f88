#!/usr/bin/env python3
"""The GPU check (issue 9): gptc's CUDA executables against its CPU ones and
PyTorch on a lent GPU, in one prepared run.

The GPU machine starts bare and offline, and only 64 MiB travel with a
call, so the work is split:

  python3 bench/gpu_check.py prepare .gpu      # here: build, into .gpu/
  python3 bench/gpu_check.py run .gpu          # there: check and time

`prepare` builds, for the tiny test model (vocab 250), CUDA and CPU
(cpu-avx2, portable) executables for training and generation, and CUDA
ones for GPT-2 124M, and writes what `run` needs beside them (the tiny
Hugging Face weights, the training-step input names, and in lib/ the
shared libraries of this machine's Debian packages the executables link:
yaml-cpp, Open MPI). `run` (needs numpy, safetensors, torch,
transformers, all in the GPU machine's image; 2 to 2.5 minutes on an
H200):
  1. tiny model, GPU vs CPU: logits of a batch; one AdamW training step
     (loss, updated parameters); 20 greedy tokens through the KV cache;
  2. GPT-2 124M training steps (W1: B=4, T=64; W2: B=1, T=1024; B=8 and
     16 at T=1024) against PyTorch eager on the GPU (same tokens, its own
     random weights; both first losses near ln 50257 = 10.8): tokens/s,
     TFLOP/s and MFU against the TF32 dense peak;
  3. W3 on the GPU: 16-token prompt, 64 new tokens, against transformers'
     generate with its KV cache.
`run --profile` then prints the executable's own kernel profile of the
GPT-2 step at B=4, T=64 and B=16, T=1024 (each kernel synchronized).
`run --cpu-only` runs the tiny checks with the CPU executables in place
of the CUDA ones, to check the script itself on a machine without a GPU.
A part that fails is reported and the next still runs, so that one lease
shows every problem.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step import GPTModel, CFG, train_inputs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPTC = os.path.join(ROOT, "build/release/tools/gptc/gptc")
MODEL = os.path.join(ROOT, "models/gpt2.gpt")
TINY = os.path.join(ROOT, "models/configs/tiny.yaml")
GPT2 = os.path.join(ROOT, "models/configs/gpt2-124m.yaml")
TINY_VOCAB = 250
# H200 (SXM) dense TF32 tensor-core peak: what cuBLASLt's TF32 GEMMs use.
PEAK_TFLOPS = 494.7


def sh(cmd, **kw):
    # Generated text may split a UTF-8 character: replace, don't fail.
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                       **kw)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr[-3000:]}")
    return r


def train_names(config, sets=()):
    """(kind, name, shape) of the training step's inputs, from the plan."""
    cmd = [GPTC, "emit", MODEL, "--config", config, "--stage=kernels",
           "--task=train"]
    for s in sets:
        cmd += ["--set", s]
    plan = sh(cmd).stdout
    fn = plan[plan.index("function train_step"):]
    fn = fn[:fn.index("\nend")]
    return [(m.group(1), m.group(2), m.group(3)) for m in re.finditer(
        r"^value \d+ (input|param) (\S+) \S+ (\S+)$", fn, re.M)]


def prepare(out):
    os.makedirs(out, exist_ok=True)
    builds = [
        ("tiny-train-cuda", TINY, "train", "cuda"),
        ("tiny-train-cpu", TINY, "train", "cpu-avx2"),
        ("tiny-gen-cuda", TINY, "generate", "cuda"),
        ("tiny-gen-cpu", TINY, "generate", "cpu-avx2"),
        ("gpt2-train-cuda", GPT2, "train", "cuda"),
        ("gpt2-gen-cuda", GPT2, "generate", "cuda"),
    ]
    for name, config, task, target in builds:
        cmd = [GPTC, "build", MODEL, "--config", config, f"--task={task}",
               f"--target={target}", "-o", os.path.join(out, name)]
        if config == TINY:
            cmd += ["--set", f"vocab_size={TINY_VOCAB}"]
        sh(cmd)
        sh(["strip", os.path.join(out, name)])
    bundle_libs(out, [os.path.join(out, b[0]) for b in builds])
    shutil.copy(os.path.join(ROOT, "tests/reference/goldens/hf-tiny/"
                             "model.safetensors"),
                os.path.join(out, "tiny.safetensors"))
    json.dump({"tiny": train_names(TINY, [f"vocab_size={TINY_VOCAB}"]),
               "gpt2": train_names(GPT2)},
              open(os.path.join(out, "names.json"), "w"))
    size = sum(os.path.getsize(os.path.join(top, f))
               for top, _, files in os.walk(out) for f in files)
    print(f"prepared {out}: {size / 2**20:.1f} MiB")
    if size > 60 * 2**20:
        sys.exit("too large to carry (64 MiB per call)")


# What every Linux image has (the C and C++ runtimes), and the CUDA libraries
# that the GPU machine's toolkit and PyTorch bring.
SYSTEM_LIBS = re.compile(r"^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|"
                         r"libpthread|librt|libstdc\+\+|libgcc_s|libcu\w*|"
                         r"libnccl)\.so")


def bundle_libs(out, exes):
    """Copies the shared libraries the executables need beyond SYSTEM_LIBS
    (yaml-cpp, Open MPI and what it loads) into out/lib: the GPU machine's
    image has none of this machine's Debian packages."""
    lib = os.path.join(out, "lib")
    os.makedirs(lib, exist_ok=True)
    for exe in exes:
        for m in re.finditer(r"^\s*(\S+) => (\S+)", sh(["ldd", exe]).stdout,
                             re.M):
            if not SYSTEM_LIBS.match(m.group(1)):
                shutil.copy(m.group(2), os.path.join(lib, m.group(1)))


def contract(exe, inputs, work, extra=()):
    from safetensors.numpy import load_file, save_file
    path_in, path_out = os.path.join(work, "in"), os.path.join(work, "out")
    save_file(inputs, path_in)
    r = sh([exe, "--inputs", path_in, "-o", path_out, *extra])
    return load_file(path_out), r.stderr


def compare(label, a, b, tol):
    diff = float(np.max(np.abs(a.astype(np.float64) - b)))
    scale = float(np.max(np.abs(b))) or 1.0
    ok = diff <= tol * scale
    print(f"  {label:34} max |gpu - cpu| {diff:.2e} (scale {scale:.2e}) "
          f"{'ok' if ok else 'FAIL'}")
    return ok


def check_tiny(d, cpu_only, work):
    gpu = "cpu" if cpu_only else "cuda"
    ok = True
    names = json.load(open(os.path.join(d, "names.json")))["tiny"]
    weights = os.path.join(d, "tiny.safetensors")
    tokens = np.random.default_rng(1).integers(0, TINY_VOCAB, (2, 17))
    runs = {}
    for dev in ("cpu", gpu):
        runs[dev], _ = contract(os.path.join(d, f"tiny-train-{dev}"),
                                {"tokens": tokens.astype(np.int32)}, work,
                                ["--weights", weights])
    # The GPU's matmuls use TF32 (10-bit mantissas, fp32 sums).
    ok &= compare("tiny logits [2, 17, 250]", runs[gpu]["logits"],
                  runs["cpu"]["logits"], 1e-2)
    step = train_inputs(names, 2, 17, TINY_VOCAB)
    for dev in ("cpu", gpu):
        runs[dev], _ = contract(os.path.join(d, f"tiny-train-{dev}"), step,
                                work)
    ok &= compare("tiny training step: loss", runs[gpu]["loss"],
                  runs["cpu"]["loss"], 1e-3)
    # One AdamW step moves a weight by at most about 2 lr = 1.2e-3.
    for name in ("wte.weight", "h.0.attn.c_attn.weight", "ln_f.weight"):
        ok &= compare(f"tiny step: {name}", runs[gpu][name],
                      runs["cpu"][name], 2e-2)
    ids = {}
    for dev in ("cpu", gpu):
        text = sh([os.path.join(d, f"tiny-gen-{dev}"), "--weights", weights,
                   "--prompt-ids", "17 3 101 42 7", "--max-new-tokens", "20",
                   "--ignore-eos", "--print-ids"]).stdout
        ids[dev] = re.search(r"^ids:(.*)$", text, re.M).group(1).split()
    same = ids[gpu] == ids["cpu"]
    print(f"  {'tiny greedy ids (20, KV cache)':34} "
          f"{'equal' if same else 'DIFFER: ' + str(ids)}")
    return ok and same


def torch_train(tokens, targets, steps):
    """PyTorch eager on the GPU: the book's model (bench/train_step.py),
    TF32 matmuls as gptc's cuBLASLt calls; the first step's loss and the
    median step time."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(0)
    model = GPTModel(CFG).cuda().train()
    # GPT-2's initialization (as train_inputs gives gptc), so that both
    # first losses are near ln 50257: PyTorch's default N(0, 1) embedding,
    # tied to the output layer, starts near 450.
    for p in model.parameters():
        if p.dim() >= 2:
            torch.nn.init.normal_(p, 0.0, 0.02)
    opt = torch.optim.AdamW(model.parameters(), lr=6e-4, weight_decay=0.1)
    x = torch.from_numpy(tokens.astype(np.int64)).cuda()
    y = torch.from_numpy(targets.astype(np.int64)).cuda()
    times, first = [], None
    for i in range(steps + 1):
        torch.cuda.synchronize()
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1),
                                                 y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        torch.cuda.synchronize()
        if i == 0:
            first = float(loss)
        else:
            times.append(time.perf_counter() - start)
    return first, float(np.median(times))


def time_gpt2(d, work):
    names = json.load(open(os.path.join(d, "names.json")))["gpt2"]
    n_params = 124439808
    print("\nGPT-2 124M training step (AdamW, clip 1.0), GPU:")
    print(f"  {'shape':14} {'gptc ms':>8} {'tok/s':>9} {'TFLOP/s':>8} "
          f"{'MFU':>5} {'eager ms':>9} {'tok/s':>9} {'loss gptc/eager':>16}")
    for b, t in ((4, 64), (1, 1024), (8, 1024), (16, 1024)):
        inputs = train_inputs(names, b, t)
        out, err = contract(os.path.join(d, "gpt2-train-cuda"), inputs, work,
                            ["--repeat", "5"])
        ms = float(re.search(r"train_step: ([0-9.]+) ms median", err).group(1))
        try:
            eager_loss, eager_s = torch_train(inputs["tokens"],
                                              inputs["targets"], 5)
        except Exception as e:  # report and go on
            print(f"  torch eager failed at B={b}, T={t}: {e}")
            eager_loss, eager_s = float("nan"), float("nan")
        tok = b * t / (ms / 1e3)
        # 6 N per token plus attention's 6 L T d (12 layers, d = 768).
        flops = (6 * n_params + 6 * 12 * t * 768) * b * t
        tflops = flops / (ms / 1e3) / 1e12
        print(f"  B={b:<2} T={t:<6} {ms:8.1f} {tok:9.0f} {tflops:8.1f} "
              f"{100 * tflops / PEAK_TFLOPS:4.0f}% {eager_s * 1e3:9.1f} "
              f"{b * t / eager_s:9.0f} "
              f"{float(out['loss']):7.4f}/{eager_loss:7.4f}")


def profile_gpt2(d, work, b, t, top=25):
    """The executable's own profile (each kernel synchronized) of the
    GPT-2 124M training step at B=b, T=t: its `top` kernels by time."""
    names = json.load(open(os.path.join(d, "names.json")))["gpt2"]
    _, err = contract(os.path.join(d, "gpt2-train-cuda"),
                      train_inputs(names, b, t), work,
                      ["--repeat", "2", "--profile"])
    lines = err[err.index("profile:"):].splitlines()
    print(f"\nprofile of the GPT-2 124M step at B={b}, T={t}:")
    print("\n".join(lines[:top + 2]))


def time_w3(d, work):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config()).eval()
    model.save_pretrained(work, safe_serialization=True)
    model = model.cuda()
    prompt = torch.randint(0, 50257, (1, 16),
                           generator=torch.Generator().manual_seed(1))
    rates = []
    # The first run loads (JIT-compiles) every kernel's PTX module; the
    # driver caches them, so the second shows the steady state.
    for _ in range(2):
        err = sh([os.path.join(d, "gpt2-gen-cuda"), "--weights",
                  os.path.join(work, "model.safetensors"), "--prompt-ids",
                  " ".join(str(int(i)) for i in prompt[0]),
                  "--max-new-tokens", "64", "--ignore-eos"]).stderr
        rates.append(re.search(r"prefill: \d+ tokens, (\d+) tokens/s; "
                               r"decode: \d+ tokens, (\d+) tokens/s", err))
    cold, m = rates
    with torch.no_grad():
        p = prompt.cuda()
        model.generate(p, max_new_tokens=4, do_sample=False, pad_token_id=0)
        torch.cuda.synchronize()
        start = time.perf_counter()
        model.generate(p, max_new_tokens=64, min_new_tokens=64,
                       do_sample=False, pad_token_id=0)
        torch.cuda.synchronize()
        total = time.perf_counter() - start
    print(f"\nW3 on the GPU (124M, prompt 16, 64 new tokens, batch 1):\n"
          f"  gptc prefill {m.group(1)} tok/s, decode {m.group(2)} tok/s "
          f"(first run, loading the kernels: {cold.group(1)} and "
          f"{cold.group(2)});\n  "
          f"transformers generate {64 / total:.0f} tok/s overall")


def library_path(d):
    """The executables find the libraries prepare bundled in d/lib, and
    libcublasLt and libnccl through the toolkit's rpath or, where the
    toolkit lacks them, PyTorch's pip copies."""
    dirs = [os.path.abspath(os.path.join(d, "lib"))]
    for name in ("cublas", "nccl"):
        try:
            module = __import__(f"nvidia.{name}", fromlist=["__path__"])
            dirs.append(os.path.join(list(module.__path__)[0], "lib"))
        except ImportError:
            pass
    os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(
        dirs + [os.environ.get("LD_LIBRARY_PATH", "")])


def stage(fn, *args):
    """Runs one part of the check: whether it passed (it raised nothing and
    did not return False). A failure is reported and the next part still
    runs, so that one lease shows every problem."""
    try:
        return fn(*args) is not False
    except (Exception, SystemExit) as e:
        print(f"\n{fn.__name__} FAILED: {e}")
        return False


def run(d, cpu_only, profile):
    library_path(d)
    work = tempfile.mkdtemp(prefix="gptc-gpu-check-")
    try:
        if not cpu_only:
            print(sh(["nvidia-smi", "-L"]).stdout.strip())
        print("tiny model, " + ("CPU twice (--cpu-only)" if cpu_only
                                else "GPU vs CPU") + ":")
        ok = stage(check_tiny, d, cpu_only, work)
        if not cpu_only:
            ok &= stage(time_gpt2, d, work)
            ok &= stage(time_w3, d, work)
            if profile:
                for b, t in ((4, 64), (16, 1024)):
                    ok &= stage(profile_gpt2, d, work, b, t)
        print("\nGPU check: " + ("passed" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["prepare", "run"])
    ap.add_argument("dir")
    ap.add_argument("--cpu-only", action="store_true")
    ap.add_argument("--profile", action="store_true",
                    help="then print the kernel profile of two GPT-2 steps")
    args = ap.parse_args()
    if args.what == "prepare":
        prepare(args.dir)
        return 0
    return run(args.dir, args.cpu_only, args.profile)


if __name__ == "__main__":
    sys.exit(main())
