#!/usr/bin/env python3
"""Runs the peers with their own defaults (k = 8, seed 1) on the shared data sets that baselines.md has no figures
for, and writes eval/peers.csv, which FmCodegen.Eval puts beside its own results.

  libFM MCMC:  libFM -task c|r -dim '1,1,8' -iter 100 -init_stdev 0.1 -seed 1   (libFM's default method)
  xLearn FM:   xlearn_train -s 1|4 -k 8 -nthread 1 -seed 1 (lr 0.2, lambda 2e-5, 10 epochs, normalisation on)
               then xlearn_predict (--sigmoid for classification)

Usage: eval/peers.py [PEERS_DIR (default /work/peers)]. Needs ../shared/data beside the repository. The data are
copied to a temporary folder first (xLearn writes .bin caches beside its inputs; rows without features get a
'1:0' for xLearn, which otherwise stops silently on them); mushrooms' labels 1/2 become 0/1
(2 positive, as FmCodegen.Eval maps them), criteo_small's libffm lines lose their fields.
Metrics: logloss (natural log, probabilities clipped to [1e-15, 1 - 1e-15]), AUC with tied ranks averaged, RMSE.
"""
import math, os, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data"))
PEERS = sys.argv[1] if len(sys.argv) > 1 else "/work/peers"

# name, train, test, task, label map
SETS = [
    ("criteo_small", "criteo_small/small_train.txt", "criteo_small/small_test.txt", "c"),
    ("w8a", "extra/w8a/w8a.train", "extra/w8a/w8a.test", "c"),
    ("phishing", "extra/phishing/phishing.train", "extra/phishing/phishing.test", "c"),
    ("mushrooms", "extra/mushrooms/mushrooms.train", "extra/mushrooms/mushrooms.test", "c"),
    ("svmguide1", "extra/svmguide1/svmguide1.train", "extra/svmguide1/svmguide1.test", "c"),
    ("cpusmall", "extra/cpusmall/cpusmall.train", "extra/cpusmall/cpusmall.test", "r"),
    ("cadata", "extra/cadata/cadata.train", "extra/cadata/cadata.test", "r"),
    ("abalone", "extra/abalone/abalone.train", "extra/abalone/abalone.test", "r"),
]


def placeholder(source, target):
    """xLearn stops without a word on a row with no features (w8a has 4,203): give such rows '1:0', which adds 0."""
    with open(source) as f, open(target, "w") as out:
        for line in f:
            out.write(line if len(line.split()) > 1 else line.rstrip("\n").rstrip() + " 1:0\n")


def convert(name, source, target):
    """libSVM text with 0/1 labels for classification: criteo's field:index:value -> index:value, mushrooms 2 -> 1, 1 -> 0."""
    labels = []
    with open(source) as f, open(target, "w") as out:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            label = parts[0]
            if name == "mushrooms":
                label = "1" if label == "2" else "0"
            feats = [":".join(p.split(":")[1:]) if p.count(":") == 2 else p for p in parts[1:]]
            out.write(" ".join([label] + feats) + "\n")
            labels.append(float(label))
    return labels


def metrics(task, labels, preds):
    if task == "r":
        return {"rmse": math.sqrt(sum((p - y) ** 2 for p, y in zip(preds, labels)) / len(labels))}
    ll = 0.0
    for p, y in zip(preds, labels):
        p = min(max(p, 1e-15), 1 - 1e-15)
        ll -= math.log(p) if y > 0 else math.log(1 - p)
    order = sorted(range(len(preds)), key=lambda i: preds[i])
    ranks = [0.0] * len(preds)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and preds[order[j + 1]] == preds[order[i]]:
            j += 1
        for t in range(i, j + 1):
            ranks[order[t]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(1 for y in labels if y > 0)
    neg = len(labels) - pos
    auc = (sum(r for r, y in zip(ranks, labels) if y > 0) - pos * (pos + 1) / 2) / (pos * neg) if pos and neg else float("nan")
    return {"logloss": ll / len(labels), "auc": auc}


def read_preds(path):
    with open(path) as f:
        return [float(line.split()[0]) for line in f if line.strip()]


def main():
    if not os.path.isdir(DATA):
        print(f"The shared data folder is missing: expected {DATA}. Nothing to run.")
        return 1
    libfm = os.path.join(PEERS, "libfm", "bin", "libFM")
    xtrain = os.path.join(PEERS, "xlearn", "build", "xlearn_train")
    xpredict = os.path.join(PEERS, "xlearn", "build", "xlearn_predict")
    rows = ["set,task,tool,logloss,auc,rmse,seconds"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, train, test, task in SETS:
            tr, te = os.path.join(tmp, name + ".train"), os.path.join(tmp, name + ".test")
            convert(name, os.path.join(DATA, train), tr)
            labels = convert(name, os.path.join(DATA, test), te)
            runs = []
            out = os.path.join(tmp, name + ".libfm.pred")
            runs.append(("libFM MCMC", [[libfm, "-task", task, "-train", tr, "-test", te, "-dim", "1,1,8", "-iter", "100",
                                         "-init_stdev", "0.1", "-seed", "1", "-out", out, "-verbosity", "0"]], out))
            xtr, xte = tr + ".xl", te + ".xl"
            placeholder(tr, xtr)
            placeholder(te, xte)
            model = os.path.join(tmp, name + ".xl.model")
            xout = os.path.join(tmp, name + ".xl.pred")
            predict = [xpredict, xte, model, "-o", xout, "-nthread", "1"] + (["--sigmoid"] if task == "c" else [])
            runs.append(("xLearn FM", [[xtrain, xtr, "-s", "1" if task == "c" else "4", "-k", "8", "-nthread", "1", "-seed", "1",
                                        "-m", model, "--no-bin", "--quiet"], predict], xout))
            for tool, commands, pred in runs:
                started = time.time()
                ok = True
                for command in commands:
                    # xLearn names its log after $USER and aborts when it is unset
                    r = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                       env={**os.environ, "USER": os.environ.get("USER", "fmcodegen")})
                    if r.returncode != 0:
                        print(f"{name} {tool}: {' '.join(command)} failed: {r.stderr[-400:]}")
                        ok = False
                        break
                seconds = time.time() - started
                if not ok:
                    continue
                m = metrics(task, labels, read_preds(pred))
                fmt = lambda key: f"{m[key]:.4f}" if key in m else ""
                rows.append(f"{name},{task},{tool},{fmt('logloss')},{fmt('auc')},{fmt('rmse')},{seconds:.2f}")
                print(rows[-1], flush=True)
    with open(os.path.join(HERE, "peers.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    print("wrote", os.path.join(HERE, "peers.csv"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
