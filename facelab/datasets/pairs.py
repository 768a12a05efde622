"""Training pairs for swap losses, and batches grouped by person.

:class:`SwapPairs` gives every sample a partner and the image that decoding "this face with the
partner's expression" should produce: on the generator, the exact render (same factors, the
partner's expression and intensity); on real data, where no such render exists, a partner of the
same person, whose own photo is then the target. :class:`PersonBatchSampler` fills batches with
a few images of each of a few people, in different expressions where possible, so that every
batch holds same-person and same-expression pairs for metric losses.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..labels import MISSING


def _unwrap(dataset) -> tuple[object, np.ndarray]:
    """The dataset under any ``Subset`` layers and the indices into it, so labels are read from
    the base dataset's records instead of decoding every image."""
    idx = np.arange(len(dataset))
    while isinstance(dataset, torch.utils.data.Subset):
        idx = np.asarray(dataset.indices, dtype=np.int64)[idx]
        dataset = dataset.dataset
    return dataset, idx


def _identities(dataset) -> np.ndarray:
    from .splits import sample_groups

    base, idx = _unwrap(dataset)
    groups = sample_groups(base)[0]
    ids = [groups[i] for i in idx]
    names = {n: k for k, n in enumerate(dict.fromkeys(i for i in ids if i is not None))}
    return np.array([names[i] if i is not None else MISSING for i in ids], dtype=np.int64)


def _expressions(dataset) -> np.ndarray:
    from ..evaluate import synthetic_view

    view = synthetic_view(dataset)
    if view is not None:
        return np.array([f.expression for f in view.factors], dtype=np.int64)
    base, idx = _unwrap(dataset)
    if isinstance(getattr(base, "expressions", None), np.ndarray):  # FaceImageDataset keeps its labels
        return base.expressions[idx].astype(np.int64)
    return np.array([int(dataset[i]["expression"]) for i in range(len(dataset))], dtype=np.int64)


class SwapPairs(Dataset):
    """``dataset``'s items plus ``partner`` (another sample's image), ``partner_expression`` and
    ``swap_target`` (this face with the partner's expression; ``swap_target_exact`` False on photos,
    where it is only the same person's other photo); on the generator, for each group of
    :data:`facelab.synthetic.FACTOR_GROUPS` in ``attribute_targets`` also ``<group>_swap_target``
    (this face, everything kept but the partner's factors of that group: the exact answer to
    "decode this face with the partner's pose code"). ``identity_targets=True`` is
    ``attribute_targets=("identity",)``.

    ``partners`` per sample are drawn with ``seed``: a random other sample on the generator,
    another image of the same person elsewhere (itself when it has none); once for the whole run,
    or again each epoch with ``redraw`` (:meth:`set_epoch`, which the trainer calls).

    ``teacher`` (N, 128), when given, adds each item's row as ``teacher`` (float32; NaN: no target),
    the recogniser's descriptor of its image (:func:`facelab.datasets.teacher.teacher_descriptors`).
    """

    def __init__(self, dataset, seed: int = 0, progress: bool = True, teacher: np.ndarray | None = None,
                 identity_targets: bool = False, attribute_targets=(), redraw: bool = False):
        from ..evaluate import synthetic_view

        self.dataset = dataset
        if teacher is not None:
            teacher = np.ascontiguousarray(teacher, dtype=np.float32)
            if teacher.ndim != 2 or len(teacher) != len(dataset):
                raise ValueError(f"teacher must be (len(dataset), dim) = ({len(dataset)}, dim), got {teacher.shape}")
        self.teacher = teacher
        self.seed, self.progress, self.redraw = seed, progress, redraw
        self.view = synthetic_view(dataset)
        self.groups = tuple(dict.fromkeys(tuple(attribute_targets) + (("identity",) if identity_targets else ())))
        self.drawn_for = 0
        self._draw(np.random.default_rng([0x5A4B, seed]), keep=True)

    def set_epoch(self, epoch: int) -> None:
        """With ``redraw``, epoch ``epoch``'s partners (and their renders): a face meets a new partner
        each epoch instead of the same one for the whole run. Epoch 0 keeps the constructor's draw;
        the draw depends on ``seed`` and ``epoch`` only, so a resumed run sees the same pairs."""
        if self.redraw and epoch != self.drawn_for:
            self.drawn_for = epoch
            self._draw(np.random.default_rng([0x5A4B, self.seed] + ([epoch] if epoch else [])), keep=epoch == 0)

    def _draw(self, rng: np.random.Generator, keep: bool = False) -> None:
        """Partners and their renders; ``keep``: the renders go through the disk cache (the first draw, which
        every process of a recipe repeats; a redraw per epoch would fill the disk)."""
        dataset, view, n = self.dataset, self.view, len(self.dataset)
        if view is not None:
            from ..synthetic import render_cached, render_many

            self.partner = rng.integers(0, n, n)
            fs = view.factors
            size = dataset[0]["image"].shape[-1]

            def targets(group: str) -> np.ndarray:
                jobs = [fs[i].with_group(fs[j], group) for i, j in zip(range(n), self.partner)]
                render = render_cached if keep else render_many
                return render(jobs, size, desc=f"render {group} swap targets" if self.progress else None)

            self.targets = targets("expression")
            self.attribute_targets = {g: self.targets if g == "expression" else targets(g) for g in self.groups}
        else:
            ids = _identities(dataset)
            self.partner = np.arange(n)
            for person in np.unique(ids[ids != MISSING]):
                members = np.flatnonzero(ids == person)
                if len(members) > 1:
                    shifted = rng.permutation(members)
                    self.partner[shifted] = np.roll(shifted, 1)
            self.targets, self.attribute_targets = None, {}  # real data: no render of another person's face here

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.dataset[i])
        j = int(self.partner[i])
        other = self.dataset[j]
        item["partner"] = other["image"]
        item["partner_expression"] = other["expression"]
        if self.targets is not None:
            item["swap_target"] = torch.from_numpy(np.ascontiguousarray(self.targets[i].transpose(2, 0, 1))).float() / 255
        else:
            item["swap_target"] = other["image"]
        item["swap_target_exact"] = torch.tensor(self.targets is not None)  # a render of this face, not a stand-in
        for group, rendered in self.attribute_targets.items():
            item[f"{group}_swap_target"] = torch.from_numpy(np.ascontiguousarray(rendered[i].transpose(2, 0, 1))).float() / 255
        if self.teacher is not None:
            item["teacher"] = torch.from_numpy(self.teacher[i].copy())
        return item


class PersonBatchSampler(Sampler):
    """Batches of ``per_person`` images from each of ``batch_size // per_person`` people.

    Within a person, images of different expressions are taken first. Samples of unknown
    identity fill the batches as singletons. One epoch covers about ``len(dataset)`` samples.
    """

    def __init__(self, identities, expressions, batch_size: int, per_person: int = 4,
                 generator: torch.Generator | None = None):
        self.ids = np.asarray(identities)
        self.expressions = np.asarray(expressions)
        self.batch_size, self.per_person = int(batch_size), max(1, int(per_person))
        self.seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator)) if generator is not None else 0
        self.epoch = 0
        self.people = {p: np.flatnonzero(self.ids == p) for p in np.unique(self.ids[self.ids != MISSING])}
        self.loose = np.flatnonzero(self.ids == MISSING)

    def __len__(self) -> int:
        return max(1, len(self.ids) // self.batch_size)

    def _group(self, rng, members: np.ndarray) -> list[int]:
        """``per_person`` members, distinct expressions first."""
        members = rng.permutation(members)
        _, first = np.unique(self.expressions[members], return_index=True)
        distinct = members[rng.permutation(first)]
        rest = np.setdiff1d(members, distinct, assume_unique=True)
        return list(np.concatenate([distinct, rng.permutation(rest)])[: self.per_person])

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        people = list(self.people)
        for _ in range(len(self)):
            batch: list[int] = []
            if people:
                chosen = rng.choice(len(people), size=min(len(people), self.batch_size // self.per_person),
                                    replace=False)
                for k in chosen:
                    batch += self._group(rng, self.people[people[k]])
            if len(batch) < self.batch_size:
                pool = self.loose if len(self.loose) else np.arange(len(self.ids))
                batch += list(rng.choice(pool, size=self.batch_size - len(batch), replace=len(pool) < self.batch_size))
            yield [int(i) for i in batch[: self.batch_size]]


def person_batch_sampler(dataset, batch_size: int, per_person: int = 4,
                         generator: torch.Generator | None = None) -> PersonBatchSampler:
    base = dataset.dataset if isinstance(dataset, SwapPairs) else dataset
    return PersonBatchSampler(_identities(base), _expressions(base), batch_size, per_person, generator)
