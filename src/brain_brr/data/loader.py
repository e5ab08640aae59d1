"""Windows of the processed store for training, and the batch samplers that order them.

:class:`WindowDataset` gives random access to any split's windows, assembled from the
recording's segments (``store.py``). Segment row groups are decoded once into a bounded
LRU cache of float16 arrays, so balanced random access stays fast without holding the
corpus in memory.

:func:`create_balanced_sampler` yields batches that each hold at least
``sampler.min_pos_per_batch`` positive windows. A sampler that silently falls back to
uniform sampling when positives are scarce is the classic way a detector collapses
unnoticed; here the train stage raises the red flag ``no_positive_windows`` instead.
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from brain_brr.data.channels import N_CHANNELS
from brain_brr.data.splits import SPLITS
from brain_brr.errors import InputError

if TYPE_CHECKING:  # the loader runs without pydantic (benchmarks/gpu_check.py)
    from brain_brr.config import DataConfig, Params


def _read_table(path: Path, columns: list[str]) -> Any:
    if not path.is_file():
        raise InputError(f"{path}: missing; run the ingest stage first (`dvc repro ingest`)")
    table = pq.read_table(path)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InputError(
            f"{path}: columns {missing} missing; the file was written by another version, rerun `dvc repro ingest`"
        )
    return table


class WindowDataset(Dataset):
    """Windows of one split: ``(signal float32 (19, window_s*fs), labels float32 (window_s*label_rate,))``.

    Parameters
    ----------
    processed_dir
        ``data.processed`` (holds ``recordings.parquet``, ``windows.parquet``, ``segments/``).
    split
        ``train``, ``dev`` or ``eval``.
    cfg
        The ``data`` section; its ``sampling_rate``, ``label_rate``, ``window_s`` and
        ``stride_s`` must match what ingest wrote.
    cache_bytes
        Budget of the decoded-row-group cache, per process (each DataLoader worker has its own).
    signal_dtype
        ``torch.float16`` returns the stored values unconverted (lossless: the store is float16),
        halving what workers hand over and what goes to a GPU, which converts them itself.
    """

    def __init__(
        self,
        processed_dir: str | Path,
        split: str,
        cfg: DataConfig,
        *,
        cache_bytes: int = 768 << 20,
        signal_dtype: torch.dtype = torch.float32,
    ):
        if split not in SPLITS:
            raise InputError(f"split '{split}' unknown; allowed: {', '.join(SPLITS)}")
        self.root = Path(processed_dir)
        self.split = split
        self.fs, self.label_rate = cfg.sampling_rate, cfg.label_rate
        self.window_s, self.stride_s = cfg.window_s, cfg.stride_s
        self.n_seg = cfg.window_s // cfg.stride_s
        self.cache_bytes = cache_bytes
        self.signal_dtype = signal_dtype

        recs = _read_table(
            self.root / "recordings.parquet", ["rec_id", "split", "segment_file", "duration_s", "seizure_s"]
        ).to_pandas()
        recs = recs[recs["split"] == split].reset_index(drop=True)
        wins = _read_table(self.root / "windows.parquet", ["rec_id", "split", "seg0", "seizure_frac", "is_pos"])
        wins = wins.filter(wins.column("split").to_numpy(zero_copy_only=False) == split).to_pandas()
        self.recordings = recs
        rec_index = {r: i for i, r in enumerate(recs["rec_id"])}
        unknown = set(wins["rec_id"]) - set(rec_index)
        if unknown:
            raise InputError(
                f"{self.root / 'windows.parquet'}: windows of recordings absent from recordings.parquet "
                f"({sorted(unknown)[:3]}); rerun `dvc repro ingest`"
            )
        self.rec_idx = wins["rec_id"].map(rec_index).to_numpy(np.int32)
        self.seg0 = wins["seg0"].to_numpy(np.int32)
        self.seizure_frac = wins["seizure_frac"].to_numpy(np.float32)
        self.is_pos = wins["is_pos"].to_numpy(bool)
        self.files = [self.root / f for f in recs["segment_file"]]
        self._handles: OrderedDict[int, tuple[pq.ParquetFile, int]] = OrderedDict()
        self._cache: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cached_bytes = 0

    def __len__(self) -> int:
        return len(self.seg0)

    def seizure_time_ratio(self) -> float:
        """Seizure time / total time of the split's recordings (each second counted once)."""
        total = float(self.recordings["duration_s"].sum())
        return float(self.recordings["seizure_s"].sum()) / total if total > 0 else 0.0

    # ------------------------------------------------------------------ access
    def _file(self, rec: int) -> tuple[pq.ParquetFile, int]:
        if rec in self._handles:
            self._handles.move_to_end(rec)
            return self._handles[rec]
        path = self.files[rec]
        if not path.is_file():
            raise InputError(f"{path}: segment file missing; rerun `dvc repro ingest`")
        pf = pq.ParquetFile(path)
        md = {k.decode(): v.decode() for k, v in (pf.schema_arrow.metadata or {}).items()}
        got = (int(md.get("fs", -1)), int(md.get("label_rate", -1)), int(md.get("stride_s", -1)))
        want = (self.fs, self.label_rate, self.stride_s)
        if got != want:
            raise InputError(
                f"{path}: written with fs, label_rate, stride_s = {got} but params.yaml data has {want}; rerun `dvc "
                "repro ingest`"
            )
        rows_per_group = pf.metadata.row_group(0).num_rows
        self._handles[rec] = (pf, rows_per_group)
        if len(self._handles) > 64:  # bounded number of open files
            self._handles.popitem(last=False)
        return self._handles[rec]

    def _row_group(self, rec: int, rg: int, pf: pq.ParquetFile) -> tuple[np.ndarray, np.ndarray]:
        key = (rec, rg)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        table = pf.read_row_group(rg, columns=["signal", "labels"])
        seg_samples, seg_steps = self.stride_s * self.fs, self.stride_s * self.label_rate
        # bytearray: writable buffers, which torch.from_numpy accepts without copying or warning.
        sig = np.frombuffer(bytearray(b"".join(table.column("signal").to_pylist())), dtype=np.float16).reshape(
            table.num_rows, N_CHANNELS, seg_samples
        )
        lab = np.frombuffer(bytearray(b"".join(table.column("labels").to_pylist())), dtype=np.uint8).reshape(
            table.num_rows, seg_steps
        )
        self._cache[key] = (sig, lab)
        self._cached_bytes += sig.nbytes + lab.nbytes
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            _, (old_sig, old_lab) = self._cache.popitem(last=False)
            self._cached_bytes -= old_sig.nbytes + old_lab.nbytes
        return sig, lab

    def _parts(self, i: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Window ``i`` as cached row-group slices: [(float16 (k, 19, seg_samples), uint8 (k, seg_steps)), ...]."""
        rec, seg0 = int(self.rec_idx[i]), int(self.seg0[i])
        pf, rows = self._file(rec)
        parts = []
        seg, end = seg0, seg0 + self.n_seg
        while seg < end:  # a window spans one or two row groups
            rg, off = divmod(seg, rows)
            sig, lab = self._row_group(rec, rg, pf)
            take = min(end - seg, sig.shape[0] - off)
            if take <= 0:
                raise InputError(
                    f"{self.files[rec]}: window at segment {seg0} runs past the file's last segment; rerun `dvc repro "
                    "ingest`"
                )
            parts.append((sig[off : off + take], lab[off : off + take]))
            seg += take
        return parts

    def _fill(self, i: int, signal: torch.Tensor, labels: torch.Tensor) -> None:
        """Write window ``i`` into ``signal`` (19, n_seg, seg_samples) and ``labels`` (n_seg, seg_steps)."""
        k0 = 0
        for sig, lab in self._parts(i):
            k = sig.shape[0]
            # torch's strided (float16 -> float32) copy is ~20x faster than numpy's astype here.
            signal[:, k0 : k0 + k].copy_(torch.from_numpy(sig).permute(1, 0, 2))
            labels[k0 : k0 + k].copy_(torch.from_numpy(lab))
            k0 += k

    def __getitem__(self, index: int | list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """One window ``(19, T), (S,)``, or for a list of indices a whole batch ``(B, 19, T), (B, S)``.

        Batches are built in place (use ``DataLoader(ds, sampler=batch_sampler, batch_size=None)``):
        no per-window tensors to stack, and inside a worker the batch is allocated in shared
        memory so that handing it to the main process copies nothing.
        """
        seg_samples, seg_steps = self.stride_s * self.fs, self.stride_s * self.label_rate
        if isinstance(index, (list, tuple, np.ndarray)):
            n = len(index)
            signal = _alloc((n, N_CHANNELS, self.n_seg, seg_samples), self.signal_dtype)
            labels = _alloc((n, self.n_seg, seg_steps), torch.float32)
            for b, i in enumerate(index):
                self._fill(int(i), signal[b], labels[b])
            return signal.view(n, N_CHANNELS, -1), labels.view(n, -1)  # (B, 19, window_s*fs), (B, window_s*label_rate)
        signal = torch.empty(N_CHANNELS, self.n_seg, seg_samples, dtype=self.signal_dtype)
        labels = torch.empty(self.n_seg, seg_steps)
        self._fill(int(index), signal, labels)
        return signal.view(N_CHANNELS, -1), labels.view(-1)  # (19, window_s*fs), (window_s*label_rate,)


def open_split(
    processed: Path, split: str, cfg: DataConfig, signal_dtype: torch.dtype = torch.float32
) -> WindowDataset:
    """:class:`WindowDataset` of one split; a split without any window is an input error."""
    ds = WindowDataset(processed, split, cfg, signal_dtype=signal_dtype)
    if len(ds) == 0:
        raise InputError(
            f"{processed / 'windows.parquet'}: the {split} split has no window; check data.root and rerun `dvc repro "
            "ingest`"
        )
    return ds


def _alloc(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Empty tensor; in a DataLoader worker in shared memory (as torch's default collate does)."""
    if torch.utils.data.get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    proto = torch.empty(0, dtype=dtype)
    storage = proto._typed_storage()._new_shared(math.prod(shape), device="cpu")
    return proto.new(storage).resize_(*shape)


# ---------------------------------------------------------------------- batches in place
class BatchRing:
    """``slots`` batch buffers in shared memory that DataLoader workers fill in place.

    Allocated once, before the workers start, so a batch costs no new shared-memory file,
    no page faults and no copy on its way to the main process. :meth:`pin` page-locks the
    buffers (``cudaHostRegister``): a batch then goes to the GPU from where its worker wrote it.
    """

    def __init__(
        self,
        slots: int,
        batch_size: int,
        window_shape: tuple[int, ...],
        label_shape: tuple[int, ...],
        dtype: torch.dtype,
    ):
        self.signal = torch.empty((slots, batch_size, *window_shape), dtype=dtype).share_memory_()
        self.labels = torch.empty((slots, batch_size, *label_shape), dtype=torch.float32).share_memory_()
        self.pinned = False

    @property
    def slots(self) -> int:
        return self.signal.shape[0]

    def pin(self) -> bool:
        """Page-lock both buffers for asynchronous copies to a GPU; False when CUDA refuses."""
        cudart = torch.cuda.cudart()
        for t in (self.signal, self.labels):
            if int(cudart.cudaHostRegister(t.data_ptr(), t.numel() * t.element_size(), 0)) != 0:
                self.unpin()
                return False
            self.pinned = True
        return True

    def unpin(self) -> None:
        if self.pinned:
            cudart = torch.cuda.cudart()
            for t in (self.signal, self.labels):
                cudart.cudaHostUnregister(t.data_ptr())
            self.pinned = False


class _SlotSampler(Sampler[tuple[int, list[int]]]):
    """A batch sampler's batches, numbered into ring slots; the count runs on across epochs."""

    def __init__(self, batches: Sampler[list[int]], slots: int):
        self.batches, self.slots, self.count = batches, slots, 0

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[int, list[int]]]:
        for batch in self.batches:
            slot, self.count = self.count % self.slots, self.count + 1  # counted before the hand-over: a
            yield slot, batch  # batch of an abandoned epoch keeps its slot


class _RingFill(Dataset):
    """``(slot, indices)`` -> the windows written into that ring slot; returns ``(slot, n)`` only."""

    def __init__(self, dataset: WindowDataset, ring: BatchRing):
        self.dataset, self.ring = dataset, ring

    def __getitem__(self, item: tuple[int, list[int]]) -> tuple[int, int]:
        slot, indices = item
        for b, i in enumerate(indices):
            self.dataset._fill(int(i), self.ring.signal[slot, b], self.ring.labels[slot, b])
        return slot, len(indices)


class RingLoader:
    """Training batches through a :class:`BatchRing`: ``(signal (B, 19, T), labels (B, S))`` per batch.

    DataLoader workers write each batch into a ring slot; the main process only learns which.
    On CUDA the ring is page-locked and each batch is copied to the device on a side stream
    while the previous step computes: nothing is copied on the host at all. Elsewhere the
    batches are views of the ring, valid until two more batches have been taken.

    A slot is refilled ``slots`` batches later. The DataLoader keeps ``prefetch * workers``
    batches in flight, so with ``prefetch * workers + 3`` slots a slot is rewritten only
    after its batch was handed out, its copy to the device finished (waited for below)
    and one more batch followed.
    """

    def __init__(
        self,
        dataset: WindowDataset,
        batches: Sampler[list[int]],
        *,
        batch_size: int,
        device: torch.device,
        num_workers: int = 0,
        prefetch: int = 2,
        **loader_kw: Any,
    ):
        self.device, self.cuda = device, device.type == "cuda"
        window_shape = (N_CHANNELS, dataset.n_seg, dataset.stride_s * dataset.fs)
        label_shape = (dataset.n_seg, dataset.stride_s * dataset.label_rate)
        self.ring = BatchRing(
            max(1, num_workers) * prefetch + 3, batch_size, window_shape, label_shape, dataset.signal_dtype
        )
        self.pinned: bool | None = None  # page-locked on CUDA once the workers exist (see __iter__)
        self.slots = _SlotSampler(batches, self.ring.slots)
        if num_workers:
            loader_kw.update(prefetch_factor=prefetch, persistent_workers=True)
        self.loader = DataLoader(
            _RingFill(dataset, self.ring), sampler=self.slots, batch_size=None, num_workers=num_workers, **loader_kw
        )
        self.stream = torch.cuda.Stream(device) if self.cuda else None

    def __len__(self) -> int:
        return len(self.slots)

    def _view(self, slot: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ring.signal[slot, :n].view(n, N_CHANNELS, -1), self.ring.labels[slot, :n].view(n, -1)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        batches = iter(self.loader)  # forks the workers the first time
        if not self.cuda:
            for slot, n in batches:
                yield self._view(slot, n)
            return
        if self.pinned is None:  # after the fork: CUDA may keep page-locked ranges out of forked children
            self.pinned = self.ring.pin()
        copies: list[torch.cuda.Event] = []
        ahead = None  # the next batch, already on its way to the device
        for slot, n in batches:
            ahead, current = self._to_device(*self._view(slot, n), copies), ahead
            if current is not None:
                yield self._ready(*current)
            if len(copies) > 1:  # the slot the DataLoader refills next held this batch
                copies.pop(0).synchronize()
        if ahead is not None:
            yield self._ready(*ahead)

    def _to_device(self, x: torch.Tensor, y: torch.Tensor, copies: list) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.cuda.stream(self.stream):
            if not self.pinned:  # CUDA refused to page-lock the ring: a pinned copy per batch, as DataLoader does
                x, y = x.pin_memory(), y.pin_memory()
            xd, yd = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            event = torch.cuda.Event()
            event.record(self.stream)
        copies.append(event)
        return xd, yd

    def _ready(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        compute = torch.cuda.current_stream(self.device)
        compute.wait_stream(self.stream)
        x.record_stream(compute)  # the side stream's allocation is used on the compute stream
        y.record_stream(compute)
        return x, y

    def close(self) -> None:
        """Unpin the ring (also happens when the loader is collected)."""
        self.ring.unpin()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: CUDA may be gone already
            self.close()


def batches_of(indices: list[int], batch_size: int) -> list[list[int]]:
    """Consecutive chunks, as a sampler for batch fetching of a fixed index list (validation)."""
    return [indices[k : k + batch_size] for k in range(0, len(indices), batch_size)]


# ---------------------------------------------------------------------- samplers
class _EpochBatchSampler(Sampler[list[int]]):
    """Shared mechanics: ``steps`` global batches per epoch, each a pure function of (seed, epoch, step).

    The global batch has ``batch_size`` windows; rank ``r`` of ``world_size`` gets the slice
    ``r::world_size`` of its positives and of its negatives, so the union over ranks is the
    batch a single process would draw, and every rank keeps its share of positives.
    """

    def __init__(self, n_windows: int, *, batch_size: int, steps: int, seed: int, rank: int = 0, world_size: int = 1):
        if batch_size % world_size:
            raise ValueError(f"train.batch_size={batch_size} is not divisible by the world size {world_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.n_windows, self.batch_size, self.steps, self.seed = n_windows, batch_size, steps, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.start_step = 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.start_step = epoch, 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "start_step": self.start_step, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["seed"]) != self.seed:
            raise ValueError(f"sampler state was saved with seed {state['seed']}, this run has seed {self.seed}")
        self.epoch, self.start_step = int(state["epoch"]), int(state["start_step"])

    def __len__(self) -> int:
        return self.steps - self.start_step

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch])

    def global_batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(positives, negatives) index arrays of each global batch of the current epoch."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[list[int]]:
        for step, (pos, neg) in enumerate(self.global_batches()):
            if step >= self.start_step:
                r, w = self.rank, self.world_size
                yield np.concatenate([pos[r::w], neg[r::w]]).tolist()


class _Stream:
    """Endless reshuffled passes over ``pool``: every index is used once before any repeats."""

    def __init__(self, pool: np.ndarray, rng: np.random.Generator):
        self.pool, self.rng, self.buf = pool, rng, np.empty(0, dtype=np.int64)

    def take(self, n: int) -> np.ndarray:
        while len(self.buf) < n:
            self.buf = np.concatenate([self.buf, self.rng.permutation(self.pool)])
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


class BalancedBatchSampler(_EpochBatchSampler):
    """Every global batch: ``n_pos`` positives (reused when scarce) and ``batch_size - n_pos`` negatives."""

    def __init__(self, is_pos: np.ndarray, *, target_pos_fraction: float, min_pos_per_batch: int, **kw: Any):
        super().__init__(len(is_pos), **kw)
        self.pos_idx = np.flatnonzero(is_pos)
        self.neg_idx = np.flatnonzero(~is_pos)
        if len(self.pos_idx) == 0:
            raise ValueError("no positive window")
        self.min_pos_per_batch = min_pos_per_batch
        per_rank = self.batch_size // self.world_size
        if min_pos_per_batch > per_rank:
            raise ValueError(f"sampler.min_pos_per_batch={min_pos_per_batch} exceeds the per-rank batch of {per_rank}")
        n_pos = max(int(round(target_pos_fraction * self.batch_size)), min_pos_per_batch * self.world_size)
        n_pos = -(-n_pos // self.world_size) * self.world_size  # a multiple of the ranks: equal per-rank batches
        self.n_pos = self.batch_size if len(self.neg_idx) == 0 else min(n_pos, self.batch_size)

    def global_batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rng = self._rng()
        pos, neg = _Stream(self.pos_idx, rng), _Stream(self.neg_idx, rng)
        for _ in range(self.steps):
            yield pos.take(self.n_pos), neg.take(self.batch_size - self.n_pos)


class ShuffledBatchSampler(_EpochBatchSampler):
    """Plain shuffled batches (``use_balanced_sampling: false``): no guarantee of positives."""

    def __init__(self, n_windows: int, **kw: Any):
        super().__init__(n_windows, **kw)

    def global_batches(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        stream = _Stream(np.arange(self.n_windows), self._rng())
        for _ in range(self.steps):
            yield np.empty(0, dtype=np.int64), stream.take(self.batch_size)


def create_balanced_sampler(
    dataset: WindowDataset,
    params: Params,
    *,
    seizure_ratio: float,
    rank: int = 0,
    world_size: int = 1,
    verbose: bool = True,
) -> _EpochBatchSampler:
    """The training batch sampler: positive-aware when ``use_balanced_sampling``, else plain shuffled.

    A balanced sampler over a split without any positive window is an error, never a silent
    fallback to uniform sampling (the train stage raises ``no_positive_windows`` first).
    """
    kw = {
        "batch_size": params.train.batch_size,
        "steps": params.train.steps_per_epoch,
        "seed": params.train.seed,
        "rank": rank,
        "world_size": world_size,
    }
    if not params.use_balanced_sampling:
        return ShuffledBatchSampler(len(dataset), **kw)
    say = print if verbose else (lambda *a, **k: None)
    say("[SAMPLER] Creating positive-aware balanced sampler...", flush=True)
    n_pos = int(dataset.is_pos.sum())
    n_neg = len(dataset) - n_pos
    say(f"[SAMPLER] Seizure ratio: {seizure_ratio:.2%}", flush=True)
    if n_pos == 0:
        raise InputError(
            f"the {dataset.split} split has {len(dataset)} windows and none holds a seizure label: nothing to balance "
            "with"
        )
    f = params.sampler.target_pos_fraction
    weight = f * n_neg / ((1 - f) * n_pos) if f < 1 else float("inf")
    say(f"[SAMPLER] Positive weight: {weight:.2f}", flush=True)
    return BalancedBatchSampler(
        dataset.is_pos, target_pos_fraction=f, min_pos_per_batch=params.sampler.min_pos_per_batch, **kw
    )


def sampled_label_ratio(sampler: _EpochBatchSampler, seizure_frac: np.ndarray, n_batches: int) -> float:
    """Negative/positive label-step ratio of the first ``n_batches`` global batches the sampler draws."""
    fracs = []
    for k, (pos, neg) in enumerate(sampler.global_batches()):
        if k == n_batches:
            break
        fracs.append(seizure_frac[np.concatenate([pos, neg])])
    f = np.concatenate(fracs).astype(np.float64)
    if f.sum() == 0:
        raise InputError(
            f"the first {n_batches} sampled batches hold no seizure label step; train.pos_weight_source=batches "
            "cannot estimate pos_weight"
        )
    return float((1 - f).sum() / f.sum())
