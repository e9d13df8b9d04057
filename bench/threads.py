"""Two networks trained in two threads versus one after the other (issue 6, item 5).

    python bench/threads.py [--workload W2|W3] [--repeats 3] [--epochs N]

Trains two networks serially, then the same two (same seeds) in two threads at once; checks
that the weights are identical, and prints the time ratio parallel / serial (best of
`--repeats`). nnpy's fit releases the GIL inside its core, so on two idle cores the ratio should
be near 0.5; the target is at most 0.65. The workloads: W2 (digits-sized: 1500 x 64 random
inputs, 64-32-10, batch 10, lr 3.0) and W3 (8192 x 784, 784-256-10, batch 128, lr 0.1).
Exits with status 1 if the weights differ (never for the ratio: that depends on the machine).
"""
import argparse
import os
import sys
import threading
import time

import numpy as np

import nnpy

WORKLOADS = {
    # name: (sizes, rows, batch, lr, default epochs)
    "W2": ([64, 32, 10], 1500, 10, 3.0, 30),
    "W3": ([784, 256, 10], 8192, 128, 0.1, 2),
}


def make_data(sizes, rows, seed=0):
    r = np.random.default_rng(seed)
    X = r.random((rows, sizes[0])) * (16 if sizes[0] == 64 else 1)
    Y = np.eye(sizes[-1])[r.integers(0, sizes[-1], rows)]
    return X, Y


def train_serial(nets, X, Y, kwargs):
    started, cpu = time.perf_counter(), time.process_time()
    for net in nets:
        net.fit(X, Y, **kwargs)
    return time.perf_counter() - started, time.process_time() - cpu


def train_parallel(nets, X, Y, kwargs):
    errors = []
    barrier = threading.Barrier(len(nets) + 1)

    def run(net):
        barrier.wait()
        try:
            net.fit(X, Y, **kwargs)
        except BaseException as err:  # noqa: B902 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(net,)) for net in nets]
    for t in threads:
        t.start()
    barrier.wait()
    started, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if errors:
        raise errors[0]
    return elapsed, cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="W2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    args = parser.parse_args(argv)

    sizes, rows, batch, lr, epochs = WORKLOADS[args.workload]
    epochs = args.epochs or epochs
    X, Y = make_data(sizes, rows)
    kwargs = dict(epochs=epochs, lr=lr, batch_size=batch)
    seeds = (1, 2)
    print(f"nnpy {nnpy.__version__}, core {nnpy.CPU_LEVEL}, {os.cpu_count()} CPUs; "
          f"{args.workload} {sizes}, {rows} rows, batch {batch}, {epochs} epochs, {args.dtype}")
    try:
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    except (AttributeError, OSError):
        pass

    best_serial = best_parallel = float("inf")
    identical = True
    for repeat in range(args.repeats):
        serial = [nnpy.Network(sizes, seed=s, dtype=args.dtype) for s in seeds]
        parallel = [nnpy.Network(sizes, seed=s, dtype=args.dtype) for s in seeds]
        t_serial, cpu_serial = train_serial(serial, X, Y, kwargs)
        t_parallel, cpu_parallel = train_parallel(parallel, X, Y, kwargs)
        same = all(np.array_equal(a._flat, b._flat) for a, b in zip(serial, parallel))
        identical &= same
        best_serial, best_parallel = min(best_serial, t_serial), min(best_parallel, t_parallel)
        # CPU time / wall time: about 1 serially, up to 2 when both threads run at once (the
        # GIL released); below that, other processes held the cores
        print(f"repeat {repeat + 1}: serial {t_serial:.3f} s (cpu/wall "
              f"{cpu_serial / t_serial:.2f}), parallel {t_parallel:.3f} s (cpu/wall "
              f"{cpu_parallel / t_parallel:.2f}), ratio {t_parallel / t_serial:.3f}, "
              f"weights identical: {same}")
    ratio = best_parallel / best_serial
    print(f"best: serial {best_serial:.3f} s, parallel {best_parallel:.3f} s")
    print(f"ratio parallel/serial = {ratio:.3f} (target <= 0.65 on 2 idle cores): "
          f"{'OK' if ratio <= 0.65 else 'ABOVE TARGET'}")
    print(f"weights identical to serial: {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
