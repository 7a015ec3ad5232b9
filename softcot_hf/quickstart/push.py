"""Publishing the quickstart (`--push-to-hub USER/NAME`): the frozen tiny models, then the SoftCoT and Coconut
checkpoints of one seed with their evaluations in the model cards."""

import json
from pathlib import Path


def push_results(output_dir: Path, trained_dir: Path, repo_id: str) -> list[str]:
    """
    Publish the quickstart: the frozen tiny models in `output_dir` as ordinary repos (`repo_id + "-backbone"`,
    `"-assistant"`), the SoftCoT checkpoint of `trained_dir` (one seed's folder) to `repo_id` with its config pointing
    at those two ids (so it loads by id anywhere), and the Coconut one to `repo_id + "-coconut"`, each with its
    evaluation (`trained_dir/eval/<method>/summary.json`) in the model card. Returns the repo ids; raises
    `ConnectionError` with what to do when the Hub cannot be reached.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from ..hub import HUB_TRANSPORT_ERRORS, push_folder

    try:
        api = HfApi()
        hub_ids = {}
        for name in ("backbone", "assistant"):
            hub_id = api.create_repo(f"{repo_id}-{name}", exist_ok=True).repo_id
            api.upload_folder(folder_path=output_dir / name, repo_id=hub_id)
            hub_ids[str(output_dir / name)] = hub_id
        targets = {"softcot": repo_id, "coconut": f"{repo_id}-coconut"}  # both summaries read before either push
        summaries = {name: json.loads((trained_dir / "eval" / name / "summary.json").read_text()) for name in targets}
        commits = [
            push_folder(trained_dir / name, target, summaries=[summaries[name]], base_model_ids=hub_ids)
            for name, target in targets.items()
        ]
    except (OSError, HfHubHTTPError, *HUB_TRANSPORT_ERRORS) as error:
        raise ConnectionError(
            f"Could not push the quickstart to the Hub as {repo_id} ({type(error).__name__}: {error}). Check the "
            "network and your token (`hf auth login`); the saved folders can be pushed later with "
            f"`softcot-hf push {trained_dir / 'coconut'} --repo-id {repo_id}-coconut --base-model-id "
            f"{output_dir / 'backbone'}=OWNER/NAME` (SoftCoT: push the frozen models first, then map both paths)."
        ) from error
    return [*hub_ids.values(), *(commit.repo_url.repo_id for commit in commits)]


def push_and_say(output_dir: Path, trained_dir: Path, repo_id: str) -> list[str]:
    """`push_results`, saying what was pushed or why not; returns the repo ids (none when it failed)."""
    try:
        pushed = push_results(output_dir, trained_dir, repo_id)
    except ConnectionError as error:
        print(f"Not pushed: {error}")
        return []
    print(f"pushed to the Hub: {', '.join(pushed)}")
    return pushed
