"""Answer extraction and scoring on realistic model outputs, tricky ones included."""

import pytest

from softcot_hf.data import get_task

# (task, model output, extracted answer, gold answer, scored correct)
CASES = [
    # Numbers: GSM8K, ASDiv-Aug, GSM8k-Aug.
    ("gsm8k", "She sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = $18.\nThe answer is 18.", "18", "18", True),
    ("gsm8k", "Total = 1,200 + 50 = 1,250.\n#### 1,250", "1250", "1250", True),
    ("gsm8k", "So the final answer is $\\boxed{72}$.", "72", "72", True),
    ("gsm8k", "The answer is: **$1,250.50** per month.", "1250.5", "1250.5", True),
    ("gsm8k", "He paid $18.00 in total. The answer is $18.00.", "18", "18", True),
    ("gsm8k", "The temperature drops 15 degrees from 10, so it is -5 degrees.", "-5", "-5", True),
    ("gsm8k", "16-3 = 13 eggs are left. She bakes 4, so 13-4=9. Answer: 9 eggs", "9", "9", True),
    ("gsm8k", "The discount is 25%. So the answer is 25%.", "25", "25", True),
    ("gsm8k", "### Step 1\nCompute 9 * 2 = 18.\n### Step 2\nThe answer is 18", "18", "18", True),
    ("gsm8k", "\\boxed{18} is wrong, let me recheck: 9 * 3 = 27. Final: \\boxed{27}", "27", "27", True),
    ("gsm8k", "Each gets \\frac{3}{4} of a pizza, so the answer is \\boxed{\\frac{3}{4}}.", "0.75", "0.75", True),
    ("gsm8k", "The answer is 3/4 of a cup.", "0.75", "0.75", True),
    ("gsm8k", "1/3 of 10 is 3.333..., so the answer is 3.33", "3.33", "3.3333", True),
    ("gsm8k", "I computed 2 + 2 = 4, but the answer is 5.", "5", "4", False),
    ("gsm8k", "I am not sure how to solve this problem.", None, "12", False),
    ("gsm8k", "", None, "12", False),
    ("gsm8k", "After 2 weeks (14 days) she has saved 140 dollars", "140", "140", True),
    ("gsm8k", "The GPT4 model says the answer is 3.", "3", "3", True),
    ("asdiv_aug", "Seven plus two is 9 apples.\n#### 9", "9", "9", True),
    ("asdiv_aug", "Each piece is 7.5 / 3 = 2.5 meters long.", "2.5", "2.5", True),
    ("gsm8k_aug", "<<16-3-4=9>> <<9*2=18>> ### 18", "18", "18", True),
    ("gsm8k_aug", "<<600*30/100=180>> <<600*10/100=60>> ### 2,125", "2125", "2125", True),
    ("gsm8k_aug", "<<4*5=20>> ### 19", "19", "20", False),
    # Options: AQuA (A-E), Date Understanding (A-F).
    ("aqua", "0.8x = 12, so x = 15. The answer is (B).", "B", "B", True),
    ("aqua", "x = 15, which matches option B) $15.", "B", "B", True),
    ("aqua", "Let's check each option: (A) is too small, (C) too large. Answer: D", "D", "D", True),
    ("aqua", "Answer choice is C", "C", "C", True),
    ("aqua", "The final answer is $\\boxed{E}$.", "E", "E", True),
    ("aqua", "The answer is (A) 5(√3 + 1).", "A", "C", False),
    ("aqua", "Among (A) and (C), only (C) satisfies the equation.", "C", "C", True),
    ("aqua", "We get a value of 15, which is a reasonable price.", None, "B", False),
    ("aqua", "So the correct option is\nB", "B", "B", True),
    ("aqua", "Therefore the answer is option E.", "E", "E", True),
    ("date_understanding", "Today is 05/01/2021, so the answer is (F).", "F", "F", True),
    ("date_understanding", "Tomorrow is 03/04/2020.\n#### (D)", "D", "D", True),
    ("date_understanding", "One day after 04/30/2021 is 05/01/2021. So the answer is A.", "A", "B", False),
    # Truth values: StrategyQA (yes/no), ProntoQA (True/False).
    ("strategyqa", "Penguins cannot fly, so the answer is no.", "no", "no", True),
    ("strategyqa", "Yes. Water boils at a lower temperature at altitude.", "yes", "yes", True),
    ("strategyqa", "There is no record of that, but overall: The answer is Yes.", "yes", "yes", True),
    ("strategyqa", "The Moon is smaller than the Earth. So the answer is false.", "no", "no", True),
    ("strategyqa", "The answer is: **No**", "no", "yes", False),
    ("strategyqa", "It depends on the exact definition used.", None, "yes", False),
    ("prontoqa", "Stella is a zumpus. Zumpuses are gorpuses.\nStella is floral.\n### False", "False", "False", True),
    ("prontoqa", "Rex is a zumpus. Zumpuses are bright. Rex is bright. The answer is True.", "True", "True", True),
    ("prontoqa", "Ada is not cold.\n### true", "True", "False", False),
    # ProsQA: the sentence after the last "#", matched exactly (up to whitespace and a final period).
    (
        "prosqa",
        "Tom is a lempus.\nEvery lempus is a yerpus.\n### Tom is a gorpus.",
        "Tom is a gorpus.",
        "Tom is a gorpus.",
        True,
    ),
    ("prosqa", "### Tom is a  gorpus", "Tom is a gorpus", "Tom is a gorpus.", True),
    ("prosqa", "Ann is a sterpus.\n### Ann is a rempus.", "Ann is a rempus.", "Ann is a jelpus.", False),
    (
        "prosqa",
        "Ann is a sterpus. Every sterpus is a jelpus.\nAnn is a jelpus.",
        "Ann is a jelpus.",
        "Ann is a jelpus.",
        True,
    ),
    ("prosqa", "### ", None, "Ann is a jelpus.", False),
]


@pytest.mark.parametrize(("task", "output", "extracted", "gold", "correct"), CASES)
def test_extract_and_score(task, output, extracted, gold, correct):
    task = get_task(task)
    assert task.extract_answer(output) == extracted
    assert task.score(output, gold) is correct


@pytest.mark.parametrize(("task", "gold"), [("gsm8k", "18"), ("aqua", "B"), ("strategyqa", "no"), ("prosqa", "A b.")])
def test_extraction_is_idempotent_on_gold_answers(task, gold):
    assert get_task(task).extract_answer(gold) == gold


def test_an_invalid_gold_answer_is_an_error():
    with pytest.raises(ValueError, match="not a valid gsm8k answer"):
        get_task("gsm8k").score("The answer is 3.", "three")
