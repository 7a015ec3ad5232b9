"""`push_to_hub` for our models: the folder `save_pretrained` writes, in one commit, with our model card kept."""

import json
import tempfile
from pathlib import Path

from huggingface_hub import HfApi, ModelCard, ModelCardData, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError


def hub_model_type(repo_id: str, revision: str | None = None, token: bool | str | None = None) -> str | None:
    """`model_type` of the `config.json` already on the Hub in `repo_id` at `revision`; `None` if there is none yet."""
    try:
        config_file = hf_hub_download(repo_id, "config.json", revision=revision, token=token)
    except (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError):
        return None
    return json.loads(Path(config_file).read_text()).get("model_type")


def refuse_other_model_type(
    repo_id: str, model_type: str, revision: str | None, token: bool | str | None, force: bool
) -> bool:
    """Raise if `repo_id` already holds a model of another type (unless `force`); True when its files get replaced."""
    remote_type = hub_model_type(repo_id, revision, token)
    if remote_type is None or remote_type == model_type:
        return False
    if not force:
        raise ValueError(
            f"{repo_id} already holds a {remote_type!r} model; refusing to push a {model_type!r} model over it. Push "
            f"to another repo id, or pass force=True (CLI: --force) to replace the repo's files."
        )
    return True


class HubPushMixin:
    """
    Replaces the stock `push_to_hub` (which writes a generic card over ours) for a `PreTrainedModel`. The model class
    sets `_hub_card` (a `ModelCard` template with `{{ card_data }}` and `{{ model_id }}`), `_hub_tags`,
    `_hub_commit_message` and `_hub_base_models()` (the names of the models it is built on; local paths are left out
    of the card).
    """

    _hub_card: str
    _hub_tags: tuple[str, ...]
    _hub_commit_message: str

    def _hub_base_models(self) -> list[str | None]:
        raise NotImplementedError

    def push_to_hub(
        self,
        repo_id: str,
        *,
        model_card: str | None = None,
        force: bool = False,
        commit_message: str | None = None,
        commit_description: str | None = None,
        private: bool | None = None,
        token: bool | str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        max_shard_size: int | str = "50GB",
        tags: list[str] | None = None,
    ):
        """
        Upload what `save_pretrained` writes (config, the trained weights, generation config, remote code) in one
        commit and return its `CommitInfo`; frozen models referenced by id are never uploaded. Push the processor or
        tokenizer with its own `push_to_hub`.

        README.md: `model_card` if given (`softcot_hf.hub.render_model_card` renders the full card), else the repo's
        card is kept, else a short card naming the base models. A repo that holds another model type is refused
        unless `force=True`, which replaces its files.
        """
        api = HfApi(token=token)
        replace = refuse_other_model_type(repo_id, self.config.model_type, revision, token, force)
        repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        if revision is not None and not create_pr:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        with tempfile.TemporaryDirectory() as folder:
            self.save_pretrained(folder, max_shard_size=max_shard_size)
            if model_card is None and (replace or not api.file_exists(repo_id, "README.md", revision=revision)):
                bases = [base for base in self._hub_base_models() if base and not Path(base).exists()]
                data = ModelCardData(
                    base_model=bases or None,
                    library_name="transformers",
                    tags=[*self._hub_tags, *(tags or [])],
                    pipeline_tag="text-generation",
                )
                model_card = str(ModelCard.from_template(data, template_str=self._hub_card, model_id=repo_id))
            if model_card is not None:
                Path(folder, "README.md").write_text(model_card, encoding="utf-8")
            return api.upload_folder(
                repo_id=repo_id,
                folder_path=folder,
                commit_message=commit_message or self._hub_commit_message,
                commit_description=commit_description,
                revision=revision,
                create_pr=create_pr,
                delete_patterns=["*", "**/*"] if replace else None,
            )


__all__ = ["HubPushMixin", "hub_model_type", "refuse_other_model_type"]
