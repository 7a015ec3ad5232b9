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
    ("prontoqa", "Rex is bright. The answer is True.", "True", "True", True),
    ("prontoqa", "Ada is not cold.\n### true", "True", "False", False),
    # ProsQA: the sentence after the last "#" (or the last sentence), ignoring case, spacing and the final period.
    (
        "prosqa",
        "Tom is a lempus.\nEvery lempus is a yerpus.\n### Tom is a gorpus.",
        "Tom is a gorpus",
        "Tom is a gorpus.",
        True,
    ),
    ("prosqa", "### Tom is a  gorpus", "Tom is a gorpus", "Tom is a gorpus.", True),
    ("prosqa", "Ann is a sterpus.\n### Ann is a rempus.", "Ann is a rempus", "Ann is a jelpus.", False),
    (
        "prosqa",
        "Ann is a sterpus. Every sterpus is a jelpus.\nAnn is a jelpus.",
        "Ann is a jelpus",
        "Ann is a jelpus.",
        True,
    ),
    ("prosqa", "### ", None, "Ann is a jelpus.", False),
    # --- more numbers: markers and their order, markdown, signs and forms of numbers
    (
        "gsm8k",
        "### 1. Find the eggs left\n16 - 3 - 4 = 9\n### 2. Find the money\n9 * 2 = 18\nThe answer is 18.",
        "18",
        "18",
        True,
    ),
    ("gsm8k", "### 1. Eggs\n16 - 7 = 9\n### 2. Money\n9 * 2 = 18", "18", "18", True),
    ("gsm8k", "First, \\boxed{9} eggs are left. Then 9 * 2 = 18 dollars. The answer is 18.", "18", "18", True),
    ("gsm8k", "The answer is 18. To double-check: \\boxed{18}", "18", "18", True),
    ("gsm8k", "The change in value is -$5, so the answer is -$5.", "-5", "-5", True),
    ("gsm8k", "He ends up with a balance of $-12.", "-12", "-12", True),
    ("gsm8k", "The temperature is \u221212 degrees. The answer is \u221212.", "-12", "-12", True),
    ("gsm8k", "She uses 2 1/2 cups of flour. The answer is 2 1/2.", "2.5", "2.5", True),
    ("gsm8k", "Each part weighs .5 kg, so the answer is .5", "0.5", "0.5", True),
    ("gsm8k", "The answer is 0.50 dollars.", "0.5", "0.5", True),
    ("gsm8k", "The answer is \\(\\boxed{42}\\)", "42", "42", True),
    ("gsm8k", "**Final Answer:** 1,000,000", "1000000", "1000000", True),
    ("gsm8k", "**Answer: 64**", "64", "64", True),
    ("gsm8k", "The answer is `35`.", "35", "35", True),
    ("gsm8k", "Answer: \\$ 7.25", "7.25", "7.25", True),
    ("gsm8k", "so the answer is 3 hours and 20 minutes", "3", "200", False),
    ("gsm8k", "The answer is 7\n\nNote: step 2 used 4 boxes.", "7", "7", True),
    ("gsm8k", "She had 20 - 5 = 15 left.\n#### 15\nExplanation: she gave 5 away.", "15", "15", True),
    ("gsm8k", "Step 1: 3 * 4 = 12\nStep 2: 12 + 6 = 18", "18", "18", True),
    ("gsm8k", "Total cost: 3 x $4.50 = $13.50", "13.5", "13.5", True),
    ("gsm8k", "The answer is 1.5 million, i.e. 1500000.", "1.5", "1500000", False),
    ("gsm8k", "The answer is \\boxed{\\dfrac{1}{2}}", "0.5", "0.5", True),
    ("gsm8k", "There are 1,234 students. The answer is 1,234", "1234", "1234", True),
    ("gsm8k", "The answer is 12.345", "12.345", "12.35", True),
    ("gsm8k", "The answer is 12.", "12", "13", False),
    ("gsm8k", "A 10% tip on $80 is $8.\n\n#### 8", "8", "8", True),
    ("gsm8k", "#### -3", "-3", "-3", True),
    ("gsm8k", "The final answer is: $\\boxed{450}$", "450", "450", True),
    ("gsm8k", "The answer is approximately 33 (33.33 exactly).", "33", "33", True),
    ("gsm8k", "He ran 5km on Monday and 7km on Tuesday, 12km in all.", "12", "12", True),
    ("gsm8k", "The train leaves at 3:45 and arrives 2 hours later. The answer is 5:45.", "5", "5", True),
    ("gsm8k", "answer: 100", "100", "100", True),
    ("gsm8k", "The ANSWER IS 27", "27", "27", True),
    ("gsm8k", "Janet has 16 - 3 = 13 eggs. 13 - 4 = 9. 9 x 2 = 18.\n\nThe answer is: 18", "18", "18", True),
    ("gsm8k", "I think the answer is 15, but wait: 5 * 4 = 20. The answer is 20.", "20", "20", True),
    ("gsm8k", "\\boxed{20} and \\boxed{25} are candidates; the answer is 25.", "25", "25", True),
    ("gsm8k", "The answer is 2/3.", "0.6666666666666666666666666667", "0.67", True),
    ("gsm8k", "The answer is 1e3.", "1", "1000", False),
    ("gsm8k", "Bob is 8 years old.\n### Final answer\n8", "8", "8", True),
    ("asdiv_aug", "<<7+2=9>> She has 9 apples.\n#### 9", "9", "9", True),
    ("asdiv_aug", "The width is 12 / 4 = 3 meters. The answer is 3.", "3", "3", True),
    ("asdiv_aug", "48/2=24\nThe answer is 24 stickers.", "24", "24", True),
    ("asdiv_aug", "He has 5 more cards than Sam. The answer is 5.", "5", "6", False),
    ("asdiv_aug", "The answer is \\boxed{0.25}", "0.25", "0.25", True),
    ("asdiv_aug", "Nothing can be concluded.", None, "4", False),
    ("asdiv_aug", "The ratio is 3:4, so the answer is 3.", "3", "3", True),
    ("asdiv_aug", "The answer is -1.5 degrees.", "-1.5", "-1.5", True),
    # --- more options: the ways models name a choice, lowercase, boxed text, echoed option lists
    ("aqua", "The correct option is C.", "C", "C", True),
    ("aqua", "The correct option is (d)", "D", "D", True),
    ("aqua", "Option B is correct.", "B", "B", True),
    ("aqua", "After checking, option e is the right one: option e is correct", "E", "E", True),
    ("aqua", "The final answer is $\\boxed{\\text{C}}$.", "C", "C", True),
    ("aqua", "\\boxed{\\textbf{(D)}}", "D", "D", True),
    ("aqua", "The answer is (c).", "C", "C", True),
    ("aqua", "The answer is option (a)", "A", "A", True),
    ("aqua", "Answer Choices: (A) 10 (B) 12 (C) 15 (D) 18 (E) 20\n12 + 6 = 18, which is D)", "D", "D", True),
    ("aqua", "(A) 10 (B) 12 (C) 15 (D) 18 (E) 20", None, "B", False),
    ("aqua", "Options: (A) 1 (B) 2 (C) 3 (D) 4 (E) 5\nThe total is 3, so (C).", "C", "C", True),
    ("aqua", "**Answer: (B)**", "B", "B", True),
    ("aqua", "The answer is **E**", "E", "E", True),
    ("aqua", "### B", "B", "B", True),
    ("aqua", "Answer: `A`", "A", "A", True),
    ("aqua", "The answer choice is (E) 24.", "E", "E", True),
    ("aqua", "I first thought (A), but the answer is (B).", "B", "B", True),
    ("aqua", "A train covers a distance of 60 km in an hour.", None, "A", False),
    ("aqua", "The price rises by 20%.\nB", "B", "B", True),
    ("aqua", "So we pick choice C", "C", "C", True),
    ("aqua", "Correct answer: E", "E", "E", True),
    ("aqua", "The answer is E) 36", "E", "E", True),
    ("aqua", "The speed is 40 km/h, so the answer is (A) 40 km/h.", "A", "A", True),
    ("aqua", "The answer is (B), not (C).", "B", "C", False),
    ("aqua", "The answer is: D.", "D", "D", True),
    ("aqua", "Both (A) and (B) fail; (D) works.", "D", "D", True),
    ("aqua", "so the answer is (F).", None, "A", False),
    ("date_understanding", "The correct option is (B) 12/31/2019.", "B", "B", True),
    (
        "date_understanding",
        "Options:\n(A) 01/01/2020\n(B) 12/31/2019\n(C) 12/30/2019\nThe date is 12/31/2019, so B).",
        "B",
        "B",
        True,
    ),
    ("date_understanding", "Yesterday was 05/10/2021. The answer is (f)", "F", "F", True),
    ("date_understanding", "Option D is correct: 09/09/1909.", "D", "D", True),
    ("date_understanding", "\\boxed{E}", "E", "E", True),
    ("date_understanding", "The answer is (C) 03/12/2002.", "C", "A", False),
    ("date_understanding", "Tomorrow will be 11/24/2001, which is option (A).", "A", "A", True),
    ("date_understanding", "The date a month ago was 11/01/2019.", None, "A", False),
    ("date_understanding", "So the answer is F.", "F", "F", True),
    ("date_understanding", "**(E) 01/08/2007**", "E", "E", True),
    ("date_understanding", "Answer: (b)", "B", "B", True),
    # --- more truth values: StrategyQA
    ("strategyqa", "The answer is `yes`.", "yes", "yes", True),
    ("strategyqa", "So the answer is: `no`", "no", "no", True),
    ("strategyqa", "**Answer: Yes**", "yes", "yes", True),
    ("strategyqa", "No, sharks are fish, not mammals.", "no", "no", True),
    ("strategyqa", "Yes or no? Rome was founded before Paris. The answer is yes.", "yes", "yes", True),
    ("strategyqa", "The claim is true.", "yes", "yes", True),
    ("strategyqa", "The answer is False.", "no", "yes", False),
    ("strategyqa", "#### no", "no", "no", True),
    ("strategyqa", 'Answer: "yes"', "yes", "yes", True),
    ("strategyqa", "The answer is (no).", "no", "no", True),
    ("strategyqa", "It is unclear; there is not enough information.", None, "no", False),
    ("strategyqa", "YES", "yes", "yes", True),
    ("strategyqa", "Spiders have eight legs, so no insect rules apply. The answer is yes.", "yes", "no", False),
    ("strategyqa", "The answer is: **yes**, because lemons are acidic.", "yes", "yes", True),
    # --- Coconut tasks: the text after the last "#" (or the last sentence), normalised; ProntoQA as a truth value
    ("gsm8k_aug", "<<3*4=12>> <<12+6=18>> #### 18", "18", "18", True),
    ("gsm8k_aug", "<<3*4=12>>\n### 18.", "18", "18", True),
    ("gsm8k_aug", "The answer is 18", "18", "18", True),
    ("gsm8k_aug", "<<5-2=3>> ### 3 ", "3", "3", True),
    ("gsm8k_aug", "### 1,000", "1000", "1000", True),
    ("gsm8k_aug", "### -4", "-4", "-4", True),
    ("gsm8k_aug", "### ", None, "4", False),
    ("gsm8k_aug", "18", "18", "18", True),
    ("prontoqa", "Rex is a zumpus. Zumpuses are bright.\n### True", "True", "True", True),
    ("prontoqa", "### True.", "True", "True", True),
    ("prontoqa", "### false", "False", "False", True),
    ("prontoqa", "### False", "False", "False", True),
    (
        "prosqa",
        "Tom is a wumpus. Every wumpus is a zhorpus.\n### Tom is a zhorpus.",
        "Tom is a zhorpus",
        "Tom is a zhorpus.",
        True,
    ),
    ("prosqa", "### Tom is a zhorpus", "Tom is a zhorpus", "Tom is a zhorpus.", True),
    ("prosqa", "#Tom is a zhorpus.", "Tom is a zhorpus", "Tom is a zhorpus.", True),
    ("prosqa", "### Tom is a zhorpus, a wumpus.", "Tom is a zhorpus a wumpus", "Tom is a zhorpus.", False),
]


@pytest.mark.parametrize(("task", "output", "extracted", "gold", "correct"), CASES)
def test_extract_and_score(task, output, extracted, gold, correct):
    task = get_task(task)
    assert task.extract_answer(output) == extracted
    assert task.score(output, gold) is correct


@pytest.mark.parametrize(("task", "gold"), [("gsm8k", "18"), ("aqua", "B"), ("strategyqa", "no"), ("prosqa", "A b")])
def test_extraction_is_idempotent_on_gold_answers(task, gold):
    assert get_task(task).extract_answer(gold) == gold


def test_an_invalid_gold_answer_is_an_error():
    with pytest.raises(ValueError, match="not a valid gsm8k answer"):
        get_task("gsm8k").score("The answer is 3.", "three")


def test_the_table_is_large_and_covers_every_family():
    assert len(CASES) >= 150
    assert {task for task, *_ in CASES} >= {"gsm8k", "asdiv_aug", "aqua", "date_understanding", "strategyqa"}
    assert {task for task, *_ in CASES} >= {"gsm8k_aug", "prontoqa", "prosqa"}


# (task, model output, ours, official): the official mode reads the papers' plain rules, ours the forms models write.
MODES = [
    ("gsm8k", "\\boxed{18}\n\nCheck: 9 * 2 = 18, and 2 eggs are broken.", "18", "2"),
    ("gsm8k", "The answer is 1,250. (Step 3)", "1250", "3"),
    ("gsm8k", "The answer is -$5.", "-5", "5"),
    ("aqua", "The answer is (B). Answer Choices: (A) 1 (B) 2 (C) 3 (D) 4 (E) 5", "B", "E"),
    ("aqua", "The correct option is (c).", "C", "C"),
    ("strategyqa", "The answer is yes. There is no doubt about it.", "yes", "no"),
    ("strategyqa", "The answer is true.", "yes", None),
    ("prosqa", "### Tom is a wumpus.", "Tom is a wumpus", "Tom is a wumpus."),
]


@pytest.mark.parametrize(("task", "output", "ours", "official"), MODES)
def test_official_mode_follows_the_papers_rules(task, output, ours, official):
    task = get_task(task)
    assert task.extract_answer(output) == ours
    assert task.extract_answer(output, mode="official") == official
    gold = ours
    assert task.score(output, gold) and task.score(output, gold, mode="official") is (official == ours)


def test_no_answer_scores_as_wrong():
    assert get_task("gsm8k").score(None, "18") is False
    assert get_task("aqua").score(None, "B", mode="official") is False
    with pytest.raises(ValueError, match="scoring mode"):
        get_task("gsm8k").extract_answer("18", mode="strict")
