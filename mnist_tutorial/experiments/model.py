"""Experiment of the model lesson: the lesson MLP as an ``nn.Module``, before any training.

``python -m mnist_tutorial run model`` runs (or loads) it. It trains nothing, so both
profiles use the same config (well under a second once torch is imported).

Claims the lesson makes and this experiment asserts: the parameter count equals the
formula from the layer sizes; layers kept in a plain Python list are not registered;
``net(X)`` runs forward hooks and ``net.forward(X)`` skips them, with equal outputs;
the network returns logits (any real numbers), and ``CrossEntropyLoss`` on them equals
the negative log of the softmax probability of the true class.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..registry import experiment, metric, table


@dataclass(frozen=True)
class ModelConfig:
    hidden: tuple[int, ...] = (1024, 256)
    seed: int = 0  # the initial weights
    batch_size: int = 8  # test images pushed through the untrained network


CONFIG = ModelConfig()


# --8<-- [start:parameters_from_sizes]
def parameters_from_sizes(sizes):
    """Weights plus biases of fully connected layers ``sizes[0] -> sizes[1] -> ...``."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))
# --8<-- [end:parameters_from_sizes]


def registration_counts() -> tuple[int, int]:
    """Parameters a module sees with its layers in a plain list vs an ``nn.ModuleList``."""
    from torch import nn

    from ..models import count_parameters

    # --8<-- [start:registration]
    class Forgetful(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(784, 10)]  # a plain list: nn.Module never looks inside

    class Registered(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(784, 10)])  # registered with the module
    # --8<-- [end:registration]

    return count_parameters(Forgetful()), count_parameters(Registered())


# --8<-- [start:call_vs_forward]
def call_vs_forward(net, X):
    """Outputs of ``net(X)`` and ``net.forward(X)``, and how often a forward hook ran."""
    calls = []
    hook = net.register_forward_hook(lambda module, inputs, output: calls.append(output.shape))
    y_hat_call = net(X)  # __call__: hooks, then forward, then more hooks
    after_call = len(calls)
    y_hat_forward = net.forward(X)  # forward alone: the hook does not run
    hook.remove()
    return y_hat_call, y_hat_forward, after_call, len(calls) - after_call
# --8<-- [end:call_vs_forward]


@experiment("model", "The lesson MLP as an nn.Module: parameters, __call__, logits",
            full=CONFIG, smoke=CONFIG)
def model_lesson(config: ModelConfig) -> dict:
    import torch
    from torch import nn

    from ..data import load_mnist, normalise
    from ..models import MLP, count_parameters

    torch.manual_seed(config.seed)
    net = MLP(config.hidden)
    sizes = [28 * 28, *config.hidden, 10]
    total = count_parameters(net)
    if total != parameters_from_sizes(sizes):
        raise AssertionError(f"MLP has {total} parameters, the layer sizes {sizes} give "
                             f"{parameters_from_sizes(sizes)}")
    rows = [[name, " × ".join(map(str, p.shape)), f"{p.numel():,}".replace(",", "\u202f")]
            for name, p in net.named_parameters()]
    per_layer = [sum(p.numel() for p in layer.parameters())
                 for layer in net.modules() if isinstance(layer, nn.Linear)]
    if len(rows) != 2 * (len(sizes) - 1):
        raise AssertionError(f"expected a weight and a bias per layer, got {[r[0] for r in rows]}")

    forgetful, registered = registration_counts()
    if forgetful != 0 or registered != 784 * 10 + 10:
        raise AssertionError(f"registration demo: {forgetful} and {registered} parameters")

    mnist = load_mnist()
    X = normalise(mnist.test_images[: config.batch_size])  # (B, 1, 28, 28)
    y = mnist.test_labels[: config.batch_size]  # (B,)
    with torch.no_grad():
        y_hat_call, y_hat_forward, hook_calls, hook_calls_forward = call_vs_forward(net, X)
        if not torch.equal(y_hat_call, y_hat_forward) or (hook_calls, hook_calls_forward) != (1, 0):
            raise AssertionError("net(X) and net.forward(X) do not behave as the lesson says")
        y_hat = net(X)  # (B, 10) logits
        probs = torch.softmax(y_hat, dim=1)
        loss = nn.CrossEntropyLoss()(y_hat, y).item()
        by_hand = -torch.log(probs[torch.arange(len(y)), y]).mean().item()
    if y_hat.shape != (config.batch_size, 10):
        raise AssertionError(f"output shape {tuple(y_hat.shape)}")
    if abs(loss - by_hand) > 1e-5:
        raise AssertionError(f"CrossEntropyLoss {loss} != -log softmax {by_hand}")
    if not torch.allclose(probs.sum(dim=1), torch.ones(len(y))):
        raise AssertionError("softmax rows do not sum to 1")

    first = y_hat[0]
    logit_rows = [[d, f"{first[d]:+.3f}", f"{probs[0, d]:.3f}"] for d in range(10)]
    return {
        "metrics": {
            "parameters": metric(total, unit="count"),
            "num_tensors": metric(len(rows), unit="count"),
            "forgetful_parameters": metric(forgetful, unit="count"),
            "registered_parameters": metric(registered, unit="count"),
            "first_label": metric(int(y[0]), unit="count"),
            "logit_min": metric(y_hat.min().item(), digits=2),
            "logit_max": metric(y_hat.max().item(), digits=2),
            "max_probability": metric(probs.max().item(), digits=3),
            "initial_loss": metric(loss, digits=3),
            "first_layer_share": metric(per_layer[0] / total, unit="percent", digits=0),
            "batch_size": metric(config.batch_size, unit="count"),
        },
        "tables": {
            "parameters": table(["parameter", "shape", "numbers"], rows,
                                "Every tensor that net.parameters() hands to the optimiser."),
            "logits": table(["digit", "logit", "softmax probability"], logit_rows,
                            f"The untrained network's output for the first test image "
                            f"(a {int(y[0])}), seed {config.seed}."),
        },
    }
