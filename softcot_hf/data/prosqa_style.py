"""ProsQA-style data: a generator of questions shaped like the Coconut paper's ProsQA, and the `prosqa_style` task.

The official ProsQA training split is not public, so this module writes data of the same kind, deterministically
from a seed. Each example is a random directed acyclic graph over made-up concept names and a few people, stated as
shuffled facts ("Every X is a Y.", "Tom is a Y."), then the question "Is Tom a A or B?":

- the *root* person reaches the *target* concept through a chain of `depth` facts, and no shorter one;
- the wrong option (*neg_target*) is reached from another person, never from the root;
- neither option has outgoing facts, and the other person never reaches the target.

`steps` is one shortest chain of facts from the root to the target, `answer` is "Tom is a A.". Records carry the
same graph fields as ProsQA (`idx_to_symbol`, `edges`, `root`, `target`, `neg_target`).

Construction: concepts sit on two sides (the root's and the other person's), each split into levels 1..depth. A
person points at every level-1 concept of its side; a concept at level d has one parent at level d - 1 of its side and,
with probability 1/2 each, more parents taken from level d - 1 or earlier concepts of level d (so no fact shortens
a path). Concepts of the root side that do not lead to the target may also have parents on the other side, and extra
people point at random concepts, so the two people's worlds overlap without changing the answer.
"""

import json
import random
from collections import deque
from functools import cache
from pathlib import Path

from .answers import TextAnswer
from .generated import distinct_rows, earlier_questions
from .sources import SPLIT_FILES, read_coconut_json
from .task import Row, Task

PEOPLE = (
    "Alex", "Bob", "Carol", "Davis", "Eva", "Fae", "Gabriel", "Jack", "Max",
    "Oliver", "Polly", "Rex", "Sally", "Sam", "Stella", "Tom", "Wren",
)  # fmt: skip
_ONSETS = (
    "b",
    "br",
    "ch",
    "d",
    "f",
    "g",
    "gr",
    "gw",
    "h",
    "j",
    "k",
    "l",
    "n",
    "qu",
    "r",
    "sc",
    "scr",
    "sh",
    "st",
    "t",
)
_RHYMES = ("ompus", "umpus", "orpus", "impus", "erpus", "elpus")
CONCEPTS = tuple(onset + rhyme for onset in _ONSETS for rhyme in _RHYMES)  # 120 made-up names

# Split sizes of the official ProsQA (train 17,886; valid 300; test 500) and the seed of each split.
SPLIT_SIZES = {"train": 17886, "validation": 300, "test": 500}
SPLIT_SEEDS = {"test": 1, "validation": 2, "train": 3}
SPLIT_ORDER = ("test", "validation", "train")  # each split excludes the questions of those before it


def _one_example(
    rng: random.Random, min_depth: int, max_depth: int, min_concepts: int, max_concepts: int, max_people: int
) -> dict:
    depth = rng.randint(min_depth, max_depth)
    neg_depth = rng.randint(max(1, depth - 4), depth)
    num_concepts = rng.randint(max(min_concepts, depth + neg_depth), max_concepts)
    num_people = rng.randint(2, max_people)

    # Concepts: (side, level), side 0 = the root's, side 1 = the other person's; every level holds at least one.
    # Nodes 0 and 1 are those two people (level 0), extra people (side 2) follow.
    slots = [(0, level) for level in range(1, depth + 1)] + [(1, level) for level in range(1, neg_depth + 1)]
    slots += [rng.choice(slots) for _ in range(num_concepts - len(slots))]
    slots.sort(key=lambda slot: (slot[1], rng.random()))  # indices grow with the level: every fact points forward
    nodes = [(0, 0), (1, 0)] + [(2, 0)] * (num_people - 2) + slots
    target = max(i for i, (side, level) in enumerate(nodes) if side == 0 and level == depth)
    neg_target = max(i for i, (side, level) in enumerate(nodes) if side == 1 and level == neg_depth)
    options = {target, neg_target}

    parents: dict[int, set[int]] = {i: set() for i in range(len(nodes))}
    for child in range(num_people, len(nodes)):
        side, level = nodes[child]
        previous = [i for i in range(child) if nodes[i] == (side, level - 1)]
        parents[child].add(rng.choice(previous))
        candidates = [
            i
            for i in range(num_people, child)
            if nodes[i][0] == side and nodes[i][1] in (level - 1, level) and i not in options
        ]
        while candidates and rng.random() < 0.5:
            parents[child].add(candidates.pop(rng.randrange(len(candidates))))

    # Root-side concepts that cannot reach the target may also hang under the other side.
    ancestors, frontier = {target}, [target]
    while frontier:
        for parent in parents[frontier.pop()]:
            if parent not in ancestors:
                ancestors.add(parent)
                frontier.append(parent)
    for child in range(num_people, len(nodes)):
        if nodes[child][0] == 0 and child not in ancestors:
            others = [i for i in range(num_people, child) if nodes[i][0] == 1 and i != neg_target]
            if others and rng.random() < 0.3:
                parents[child].add(rng.choice(others))
    for person in range(2, num_people):
        for child in rng.sample(range(num_people, len(nodes)), k=rng.randint(1, 3)):
            parents[child].add(person)

    # The root person is index 0 or 1 (the other person the other one), as in ProsQA.
    root = rng.randrange(2)
    if root == 1:
        parents = {child: {{0: 1, 1: 0}.get(parent, parent) for parent in ps} for child, ps in parents.items()}
    names = rng.sample(PEOPLE, k=num_people) + rng.sample(CONCEPTS, k=num_concepts)
    edges = sorted([parent, child] for child, ps in parents.items() for parent in ps)

    def fact(parent: int, child: int) -> str:
        subject = names[parent] if parent < num_people else f"Every {names[parent]}"
        return f"{subject} is a {names[child]}."

    # One shortest chain root -> target, walked back through random predecessors one level closer.
    distance = _distances(edges, root)
    chain = [target]
    while chain[-1] != root:
        closer = sorted(p for p in parents[chain[-1]] if distance.get(p) == distance[chain[-1]] - 1)
        chain.append(rng.choice(closer))
    chain.reverse()

    facts = [fact(parent, child) for parent, child in edges]
    rng.shuffle(facts)
    first, second = rng.sample([target, neg_target], k=2)
    return {
        "question": " ".join(facts) + f" Is {names[root]} a {names[first]} or {names[second]}?",
        "steps": [fact(parent, child) for parent, child in zip(chain, chain[1:], strict=False)],
        "answer": f"{names[root]} is a {names[target]}.",
        "idx_to_symbol": names,
        "edges": edges,
        "root": root,
        "target": target,
        "neg_target": neg_target,
    }


def _distances(edges: list[list[int]], source: int) -> dict[int, int]:
    """Breadth-first number of facts from `source` to every node it reaches."""
    children: dict[int, list[int]] = {}
    for parent, child in edges:
        children.setdefault(parent, []).append(child)
    distance, queue = {source: 0}, deque([source])
    while queue:
        node = queue.popleft()
        for child in children.get(node, []):
            if child not in distance:
                distance[child] = distance[node] + 1
                queue.append(child)
    return distance


def generate_prosqa_style(
    num_examples: int,
    seed: int = 0,
    min_depth: int = 3,
    max_depth: int = 6,
    min_concepts: int = 12,
    max_concepts: int = 26,
    max_people: int = 4,
    exclude_questions: set[str] | frozenset[str] = frozenset(),
) -> list[dict]:
    """
    `num_examples` ProsQA-shaped records (see the module docstring), the same for the same arguments.

    Args:
        num_examples: how many records.
        seed: seeds the whole list.
        min_depth, max_depth: range of the number of reasoning steps (ProsQA: 3 to 6).
        min_concepts, max_concepts: range of the number of concepts per graph (ProsQA: 12 to 26, plus 2 to 6
            people); `max_concepts` must hold two chains of `max_depth`.
        max_people: at most this many people (at least 2: the root and the other person).
        exclude_questions: questions never to produce (e.g. those of another split); duplicates are never produced.
    """
    if not 1 <= min_depth <= max_depth:
        raise ValueError(f"Need 1 <= min_depth <= max_depth, got {min_depth} and {max_depth}.")
    if not min_concepts <= max_concepts <= len(CONCEPTS) or max_concepts < 2 * max_depth:
        raise ValueError(
            f"max_concepts must be at least min_concepts ({min_concepts}) and 2 * max_depth ({2 * max_depth}), and "
            f"at most {len(CONCEPTS)} (the made-up names available); got {max_concepts}."
        )
    if not 2 <= max_people <= len(PEOPLE):
        raise ValueError(f"max_people must be between 2 and {len(PEOPLE)}, got {max_people}.")

    def make_record(rng: random.Random) -> dict:
        return _one_example(rng, min_depth, max_depth, min_concepts, max_concepts, max_people)

    return distinct_rows(make_record, num_examples, seed, exclude_questions)


# The graph-shape arguments of `generate_prosqa_style` that a split (and `load(..., **options)`) may change.
GRAPH_OPTIONS = ("min_depth", "max_depth", "min_concepts", "max_concepts", "max_people")


@cache
def generate_split(split: str, **graph_options: int) -> tuple[dict, ...]:
    """The `prosqa_style` split (`SPLIT_SIZES`, `SPLIT_SEEDS`); train never repeats a validation or test question,
    validation never repeats a test one. `graph_options` (names in `GRAPH_OPTIONS`) change the graphs' shape, e.g.
    `max_depth=3, max_concepts=8` for smaller ones; the splits stay apart for the same options."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"prosqa_style has no split {split!r}; choose one of {', '.join(SPLIT_SIZES)}.")
    unknown = sorted(set(graph_options) - set(GRAPH_OPTIONS))
    if unknown:
        raise ValueError(
            f"prosqa_style has no option {', '.join(map(repr, unknown))}; its options are {', '.join(GRAPH_OPTIONS)}."
        )
    exclude = earlier_questions(split, SPLIT_ORDER, lambda earlier: generate_split(earlier, **graph_options))
    return tuple(
        generate_prosqa_style(SPLIT_SIZES[split], seed=SPLIT_SEEDS[split], exclude_questions=exclude, **graph_options)
    )


def write_prosqa_style_splits(data_dir: str | Path) -> list[Path]:
    """Write the three splits as `prosqa_style_{train,valid,test}.json` (Coconut format with the graph fields)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, stem in SPLIT_FILES.items():
        path = data_dir / f"prosqa_style_{stem}.json"
        path.write_text(json.dumps(list(generate_split(split))), encoding="utf-8")
        paths.append(path)
    return paths


def _generated(split: str, **graph_options: int) -> list[Row]:
    rows = generate_split(split, **graph_options)
    return [{key: record[key] for key in ("question", "steps", "answer")} for record in rows]


def _local(data_dir: Path, split: str) -> list[Row]:
    path = data_dir / f"prosqa_style_{SPLIT_FILES[split]}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found. Write the splits there with "
            f"softcot_hf.data.prosqa_style.write_prosqa_style_splits({str(data_dir)!r}), or load without data_dir "
            "to generate them in memory."
        )
    return read_coconut_json(path)


TASKS = (
    Task(
        name="prosqa_style",
        source="generated in memory by softcot_hf.data.prosqa_style (no download)",
        layout="prosqa_style_train.json, prosqa_style_valid.json, prosqa_style_test.json (Coconut format)",
        splits=("train", "validation", "test"),
        answer=TextAnswer(),
        read_remote=_generated,
        read_local=_local,
    ),
)

__all__ = [
    "CONCEPTS",
    "GRAPH_OPTIONS",
    "PEOPLE",
    "TASKS",
    "generate_prosqa_style",
    "generate_split",
    "write_prosqa_style_splits",
]
