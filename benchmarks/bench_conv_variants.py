"""What slows skae's default conv network on MNIST-5k: one variant per run.

A hand-written loop (Adam, fused) over skae's own conv network, built by the
estimator at its starting point (PCA's solution, or ``init=random``), trained on
the 3,600 training rows the default fit uses (4,000 minus its validation
split), and the held-out MSE (pixel units, 1,000 images) printed every
``every`` epochs. Options, ``key=value``: ``batch`` (200), ``lr`` (1e-3), ``lr_lin``
(the linear paths' learning rate; 0 freezes them), ``epochs`` (15), ``init``
(pca/random), ``loss`` (mse/bce), ``ch`` (channels, ``32,64``), ``sched``
(none/cos/onecycle), ``nolin=1|enc|dec`` (remove both linear paths or one:
the plain network's shape), ``bn=1`` (BatchNorm after each hidden
convolution), ``encgate=1`` (the encoder's linear path gated too), ``noise``
(the denoising noise, 0 here), ``sched=wcos`` (``skae._schedules``'s warm-up
and cosine decay; ``warm``: the warm-up's share of the steps, 0.05),
``gn=G`` (GroupNorm in G groups instead of ``bn``'s BatchNorm), ``gatefn``
(``hard``: ``clamp(1 + g, 0, 2)``, ``sig4``: ``2 sigmoid(4 g)`` as the decoder's
gate), ``detach=1`` (the decoder's linear path sees the code detached),
``lindecay=W`` (decoupled decay of the linear paths towards 0), ``threads``
(torch threads, 1). The network is the estimator's own: since the GroupNorm
change it has GroupNorm already (runs named ``W14`` and later); ``bn``/``gn``
add a norm on top of it. Results are appended to
``benchmarks/results/conv_variants.jsonl``. One thread. Run from the repository root::

    python benchmarks/bench_conv_variants.py NAME batch=64 lr=1e-3 epochs=15
"""
import contextlib, json, os, sys, time, math
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE)); sys.path.insert(0, HERE)
import numpy as np, torch
torch.set_num_threads(1)
import _datasets
from skae import AutoencoderTransformer
from skae._random import fit_generators
from skae._objectives import ReconstructionLoss

args = dict(a.split("=", 1) for a in sys.argv[2:])
name = sys.argv[1]
def g(k, d, t=float):
    return t(args.get(k, d))
lr, batch, epochs = g("lr", 1e-3), g("batch", 200, int), g("epochs", 15, int)
lr_lin = g("lr_lin", lr)
init, loss = args.get("init", "pca"), args.get("loss", "mse")
chans = tuple(int(c) for c in args.get("ch", "32,64").split(","))
sched = args.get("sched", "none"); freeze = g("freeze", 0, int); every = g("every", 5, int)
X, Xt, y, yt = _datasets.mnist_split(random_state=0)
X = X.astype(np.float32); Xt = Xt.astype(np.float32)
est = AutoencoderTransformer(
    n_components=16, architecture="conv", input_shape=(1, 28, 28), random_state=0,
    init=init, loss=loss, hidden_layer_sizes=chans, noise=g("noise", 0.0))
est._resolve_parameters(X, None)
valid_rows, train_rows = est._validation_split(X)
ig, tg = fit_generators(est._seed, "cpu")
with contextlib.ExitStack() as s:
    module, loc, scale = est._initialize_module(X, train_rows, valid_rows, ig, s)
torch.set_num_threads(g("threads", 1, int))
if args.get("bn") or args.get("gn"):
    from torch import nn
    import skae._architectures as A
    def norm(c):  # bn=1: BatchNorm; gn=G: GroupNorm with G groups (no batch dependence)
        return nn.BatchNorm2d(c) if args.get("bn") else nn.GroupNorm(min(int(args["gn"]), c), c)
    def with_bn(seq, last_skip):
        layers = list(seq)
        out = []
        for i, l in enumerate(layers):
            out.append(l)
            last = last_skip and i == len(layers) - 1
            if isinstance(l, (nn.Conv2d, nn.ConvTranspose2d)) and not last:
                out.append(norm(l.out_channels))
        return nn.Sequential(*out)
    module.encoder.body.features = with_bn(module.encoder.body.features, False)
    module.decoder.body.layers = with_bn(module.decoder.body.layers, True)
if args.get("encgate"):
    from torch import nn
    import types
    enc = module.encoder
    k = enc.linear.out_features
    new = nn.Linear(enc.body.head.in_features, 2 * k)
    with torch.no_grad(): new.weight.zero_(); new.bias.zero_()
    enc.body.head = new
    def efwd(self, x):
        lin = self.linear(x)
        h = self.body.head(self.body.features(x.reshape(x.shape[0], *self.in_shape)))
        return lin * (2 * torch.sigmoid(h[:, k:])) + h[:, :k]
    enc.forward = types.MethodType(efwd, enc)
if args.get("gatefn"):
    # How the decoder's gate scales the linear path: "hard" = clamp(1 + g, 0, 2)
    # (reaches 0 at g = -1) instead of 2 sigmoid(g) (reaches 0 only at -inf).
    import types
    dec = module.decoder
    fn = {"hard": lambda g: (1 + g).clamp(0, 2),
          "sig4": lambda g: 2 * torch.sigmoid(4 * g)}[args["gatefn"]]
    def dfwd(self, z):
        out = self.linear(z)
        shift, gate = self.body(z)
        return out * fn(gate.reshape(out.shape)) + shift.reshape(out.shape)
    dec.forward = types.MethodType(dfwd, dec)
if args.get("detach"):
    # The decoder's linear path sees the code detached: the encoder learns only
    # through the decoder's body (no pressure to keep PCA's codes for the linear path).
    import types
    dec = module.decoder
    def tfwd(self, z):
        out = self.linear(z.detach())
        shift, gate = self.body(z)
        return out * (2 * torch.sigmoid(gate.reshape(out.shape))) + shift.reshape(out.shape)
    dec.forward = types.MethodType(tfwd, dec)
if args.get("nolin"):
    both = (module.encoder, module.decoder)
    sides = {"enc": both[:1], "dec": both[1:]}.get(args["nolin"], both)
    for side in sides:
        with torch.no_grad(): side.linear.weight.zero_(); side.linear.bias.zero_()
        side.linear.weight.requires_grad_(False); side.linear.bias.requires_grad_(False)
lin = [p for n, p in module.named_parameters() if ".linear." in n and p.requires_grad]
body = [p for n, p in module.named_parameters() if ".linear." not in n and p.requires_grad]
opt = torch.optim.Adam([{"params": body, "lr": lr}, {"params": lin, "lr": lr_lin}], fused=True)
crit = ReconstructionLoss()
Xtr = torch.from_numpy(X[train_rows]); Xte = torch.from_numpy(Xt)
gen = torch.Generator().manual_seed(0)
def heldout():
    module.eval()
    with torch.inference_mode():
        r = module.reconstruct_mean(module.decode(module.encode(Xte)))
    module.train()
    return float(((r - Xte) ** 2).mean())
steps_per_epoch = math.ceil(len(Xtr) / batch)
total = steps_per_epoch * epochs
step = 0
out = {"name": name, "args": args, "curve": {0: heldout()}}
t0 = time.perf_counter()
module.train()
for ep in range(1, epochs + 1):
    if freeze:
        for p in lin: p.requires_grad_(ep > freeze)
    Xs = Xtr[torch.randperm(len(Xtr), generator=gen)]
    for s in range(0, len(Xs), batch):
        if sched == "cos":
            f = 0.5 * (1 + math.cos(math.pi * step / total))
        elif sched == "wcos":  # linear warm-up over `warm` of the steps, then cosine to 0
            w = max(1, int(g("warm", 0.05) * total))
            f = (step + 1) / w if step < w else 0.5 * (1 + math.cos(math.pi * (step - w) / (total - w)))
        elif sched == "onecycle":
            w = int(0.2 * total)
            f = step / w if step < w else 0.5 * (1 + math.cos(math.pi * (step - w) / (total - w)))
        else:
            f = 1.0
        opt.param_groups[0]["lr"] = lr * f; opt.param_groups[1]["lr"] = lr_lin * f
        xb = Xs[s:s + batch]
        opt.zero_grad(set_to_none=True)
        crit(module(xb), xb, module).backward()
        opt.step(); step += 1
        if args.get("lindecay"):  # decoupled decay of the linear paths towards 0
            with torch.no_grad():
                for p in lin:
                    p.mul_(1 - opt.param_groups[1]["lr"] * g("lindecay", 0.0))
    if ep % every == 0 or ep == epochs:
        out["curve"][ep] = round(heldout(), 5)
        print(name, ep, out["curve"][ep], f"{time.perf_counter()-t0:.0f}s", flush=True)
out["seconds"] = time.perf_counter() - t0
out["load"] = open("/proc/loadavg").read().split()[0]
with open(os.path.join(HERE, "results", "conv_variants.jsonl"), "a") as f:
    f.write(json.dumps(out) + "\n")
