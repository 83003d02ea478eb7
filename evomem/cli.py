"""The ``evomem`` command line."""

from __future__ import annotations

import functools
import importlib.util
import json
import shlex
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .datasets.split import DEV_SHARE, SPLITS
from .errors import EvoMemError, InvalidInputError, OtherModelWarning
from .schema import (
    DEFAULT_K,
    DEFAULT_LEXICAL_WEIGHT,
    DEFAULT_MAX_MESSAGE_CHARS,
    DEFAULT_MODE,
    MODES,
    DeleteResult,
    Hit,
    check_ids,
    check_namespace,
    iso_time,
    to_message,
)
from .service.limits import MAX_BODY_BYTES

if TYPE_CHECKING:  # torch, transformers and Chroma load inside the commands, so help and usage errors are instant
    from .maintenance.check import CheckReport
    from .memory import EvoMemory

# What evomem raises (bad input, a damaged store, ...) and a file that cannot be read: one line, not a traceback.
USER_ERRORS = (EvoMemError, OSError)

DATA_OPTION = click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="LoCoMo-format JSON (default: $EVOMEM_DEMO_DATA, else shared/data/locomo-dev/locomo_dev.json in the "
    "working directory or a parent, else the bundled sample).",
)


def _open(
    ctx: click.Context,
    show_progress: bool = False,
    path: str | None = None,
    migrating: bool = False,
    create: bool = True,
) -> EvoMemory:
    """The store of the global options; a store written by other models only is said in one line (not when
    ``migrating`` it). Without ``create`` a path that holds no store is an error, and nothing is made there."""
    from .memory import EvoMemory

    options = ctx.obj
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OtherModelWarning)
        memory = EvoMemory(
            path=path or options["path"],
            model=options["model"],
            segment_batching=options["segment_batching"],
            chroma_host=options["chroma_host"],
            chroma_port=options["chroma_port"],
            show_progress=show_progress,
            state_url=options["state_url"],
            create=create,
            max_message_chars=options["max_message_chars"],
        )
    for warning in caught:
        if not issubclass(warning.category, OtherModelWarning):
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
        elif not migrating:
            click.echo(f"warning: {warning.message}", err=True)
    return memory


EVAL_MODULES = {"sentence_transformers": "sentence-transformers", "bm25s": "bm25s", "matplotlib": "matplotlib"}
SERVER_MODULES = {"fastapi": "fastapi", "fastapi_swagger": "fastapi-swagger", "uvicorn": "uvicorn", "mcp": "mcp"}


def require_extra(command: str, extra: str, modules: dict[str, str]) -> None:
    """An extra's modules, or a message naming the extra instead of a failure deep inside a run."""
    missing = [dist for module, dist in modules.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise click.ClickException(
            f"evomem {command} needs {', '.join(missing)}: pip install 'evomem[{extra}]' (or -e '.[{extra}]')"
        )


def require_eval_extra(command: str) -> None:
    """Baselines and plots come with the ``eval`` extra."""
    require_extra(command, "eval", EVAL_MODULES)


class CliError(click.ClickException):
    """One ``Error: ...`` line and exit code 2."""

    exit_code = 2


def _existing(ctx: click.Context, namespace: str, show_progress: bool = False) -> EvoMemory:
    """The store, for a command that reads (or deletes from) ``namespace``: a missing store or namespace is an
    error naming it, and nothing is created."""
    memory = _open(ctx, show_progress=show_progress, create=False)
    if memory.states.has(namespace) or memory.store.has_records(namespace):
        return memory
    from .storage.state import models_with_states

    alike = [name for name in memory.namespaces() if name.casefold() == namespace.casefold()]
    hint = f"; did you mean {alike[0]!r}? (names are case-sensitive)" if alike else ""
    if not alike and models_with_states(memory.path) - {memory.fingerprint}:
        hint = " for this model; the store holds other models' data: `evomem upgrade` re-encodes it"
    raise CliError(f"no namespace {namespace!r} in the store at {memory.path}{hint}")


# Global options (each takes a value, but --no-segment-batching) that may also come after the subcommand.
GLOBAL_OPTIONS = {
    "--path": True,
    "--model": True,
    "--chroma-host": True,
    "--chroma-port": True,
    "--state-url": True,
    "--max-message-chars": True,
    "--no-segment-batching": False,
}


def hoist_global_options(args: list[str]) -> list[str]:
    """``args`` with the global options found after the subcommand moved before it, so that
    ``evomem search q -n x --path p`` means ``evomem --path p search q -n x`` (``--`` ends the options)."""
    before, index = [], 0
    while index < len(args) and args[index].split("=", 1)[0] in GLOBAL_OPTIONS:
        name = args[index].split("=", 1)[0]
        width = 2 if GLOBAL_OPTIONS[name] and "=" not in args[index] else 1
        before += args[index : index + width]
        index += width
    hoisted, rest = [], []
    tail = iter(args[index:])
    for arg in tail:
        if arg == "--":
            rest += [arg, *tail]
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            hoisted.append(arg)
            if GLOBAL_OPTIONS[name] and "=" not in arg:
                hoisted.append(next(tail, ""))
        else:
            rest.append(arg)
    return before + hoisted + rest


class EvomemGroup(click.Group):
    """Takes the global options before or after the subcommand, runs it and turns ``USER_ERRORS`` into a
    ``CliError``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = hoist_global_options(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as error:
            raise CliError(str(error)) from None


@click.group(cls=EvomemGroup)
@click.option("--path", default="./evomem-data", envvar="EVOMEM_PATH", show_default=True, help="Data directory.")
@click.option("--model", default=None, envvar="EVOMEM_MODEL", help="Model directory (default: embedded model).")
@click.option("--no-segment-batching", is_flag=True, help="One memory pass per segment (slower).")
@click.option("--chroma-host", default=None, envvar="EVOMEM_CHROMA_HOST", help="Use a Chroma server.")
@click.option("--chroma-port", default=8000, type=int, envvar="EVOMEM_CHROMA_PORT", show_default=True)
@click.option(
    "--state-url",
    default=None,
    envvar="EVOMEM_STATE_URL",
    help="PostgreSQL URL for memory states and writer locks, shared by servers on several machines (with "
    "--chroma-host; needs the `postgres` extra).",
)
@click.option(
    "--max-message-chars",
    default=DEFAULT_MAX_MESSAGE_CHARS,
    type=click.IntRange(min=1),
    envvar="EVOMEM_MAX_MESSAGE_CHARS",
    show_default=True,
    help="The longest message a write takes (ingest, serve, mcp); a longer text is a document (add_text).",
)
@click.pass_context
def main(ctx, path, model, no_segment_batching, chroma_host, chroma_port, state_url, max_message_chars):
    """evomem: long-term memory with evolvable embeddings."""
    ctx.obj = {
        "max_message_chars": max_message_chars,
        "path": path,
        "model": model,
        "segment_batching": not no_segment_batching,
        "chroma_host": chroma_host,
        "chroma_port": chroma_port,
        "state_url": state_url,
    }


def _read_jsonl(file: Path) -> list[dict]:
    """The messages of a JSON-lines file, each checked; an error names the file and line."""
    messages = []
    lines_of_ids: dict[str, int] = {}
    for number, raw in enumerate(file.read_bytes().splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
            if not line.strip():
                continue
            message = json.loads(line)
            checked = to_message(message)
            if checked.id is not None and lines_of_ids.setdefault(checked.id, number) != number:
                raise InvalidInputError(f"message id {checked.id!r} is on line {lines_of_ids[checked.id]} already")
        except UnicodeDecodeError:
            raise CliError(f"{file}:{number}: not UTF-8 text (ingest reads JSON lines)") from None
        except json.JSONDecodeError as error:
            raise CliError(f"{file}:{number}: not JSON ({error.msg})") from None
        except RecursionError:
            raise CliError(f"{file}:{number}: JSON nested too deeply") from None
        except (TypeError, ValueError) as error:
            raise CliError(f"{file}:{number}: {error}") from None
        messages.append(message)
    return messages


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--namespace", "-n", required=True)
@click.option(
    "--idempotent/--no-idempotent",
    default=True,
    show_default=True,
    help="Messages without an id get one from their content and line, so ingesting FILE again stores nothing new.",
)
@click.pass_context
def ingest(ctx, file, namespace, idempotent):
    """Append the messages of FILE (JSON lines: content, optional role (default user), name, id, timestamp,
    metadata; `evomem export` writes them). Messages already stored unchanged (a retried ingest) are skipped and
    counted."""
    namespace = check_namespace(namespace)
    messages = _read_jsonl(file)
    added = _open(ctx, show_progress=True).add_messages(messages, namespace=namespace, idempotent=idempotent)
    skipped = f"; {len(added.unchanged)} already stored unchanged, skipped" if added.unchanged else ""
    click.echo(f"stored {len(added.stored)} messages in namespace {namespace}{skipped}")


@main.command()
@click.argument("query")
@click.option("--namespace", "-n", required=True)
@click.option("-k", default=DEFAULT_K, show_default=True, type=int)
@click.option("--mode", type=click.Choice(MODES), default=DEFAULT_MODE, show_default=True, help="Search mode.")
@click.option(
    "--lexical-weight",
    type=click.FloatRange(0, 1),
    default=DEFAULT_LEXICAL_WEIGHT,
    show_default=True,
    help="The lexical ranking's share in hybrid mode.",
)
@click.option(
    "--min-score",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Leave out hits whose calibrated score (0 to 1) is lower.",
)
@click.option("--json", "as_json", is_flag=True, help="Print hits as JSON lines.")
@click.pass_context
def search(ctx, query, namespace, k, mode, lexical_weight, min_score, as_json):
    """Search a namespace with its current memory: one line a hit (calibrated score, time, id, text); exit
    code 1 when nothing reaches --min-score."""
    namespace = check_namespace(namespace)
    memory = _existing(ctx, namespace)
    hits = memory.search(query, namespace=namespace, k=k, mode=mode, lexical_weight=lexical_weight, min_score=min_score)
    for hit in hits:
        if as_json:
            click.echo(json.dumps(_hit_json(hit)))
        else:
            click.echo(f"{hit.score:.3f}  {_when(hit.metadata)}[{hit.id}]  {hit.text}")
    if not hits:
        click.echo("nothing relevant" if min_score else "no hits", err=True)
        raise SystemExit(1)


def _when(metadata: Mapping[str, Any]) -> str:
    """When a stored message happened, to the minute and a gap after it: its ``time`` (its timestamp, else when it
    was written; a record of an earlier release has only a timestamp, if any), or nothing."""
    seconds = metadata.get("time", metadata.get("timestamp"))
    return "" if seconds is None else iso_time(seconds)[:16] + "  "


def _hit_json(hit: Hit) -> dict:
    scores = {"evolvable": hit.scores.evolvable, "lexical": hit.scores.lexical, "fused": hit.scores.fused}
    # mypy does not read ``TypedDict(..., extra_items=)`` (PEP 728): it sees HitMetadata without keys
    times = {
        key: iso_time(hit.metadata[key])  # type: ignore[typeddict-item]
        for key in ("timestamp", "created_at")
        if key in hit.metadata
    }
    return {"id": hit.id, "score": hit.score, "text": hit.text, **times, "scores": scores, "metadata": hit.metadata}


@main.command(name="list")
@click.option("--namespace", "-n", required=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Messages to show (default: all).")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True, help="Messages to skip first.")
@click.pass_context
def list_command(ctx, namespace, limit, offset):
    """The messages of a namespace in stream order, one line each: position, time, id and stored text."""
    namespace = check_namespace(namespace)
    memory = _existing(ctx, namespace)
    for segment in memory.get(namespace=namespace, limit=limit, offset=offset):
        part = f"/{segment.part}" if segment.part else ""
        text = " ".join(segment.text.split())
        click.echo(f"{segment.metadata['position']:>6}  {_when(segment.metadata)}[{segment.id}{part}]  {text}")


@main.command()
@click.option("--namespace", "-n", required=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
@click.pass_context
def export(ctx, namespace, output):
    """Write a namespace's messages as JSON lines in stream order (id, role, name, content, timestamp,
    metadata), the format `evomem ingest` reads back."""
    from .export import as_messages

    namespace = check_namespace(namespace)
    memory = _existing(ctx, namespace)
    lines = (
        json.dumps(message, ensure_ascii=False)
        for message in as_messages(memory.get(namespace=namespace), memory.segmenter)
    )
    if output is None:
        for line in lines:
            click.echo(line)
        return
    written = 0
    with output.open("w", encoding="utf-8") as file:
        for line in lines:
            file.write(line + "\n")
            written += 1
    click.echo(f"exported {written} messages of namespace {namespace} to {output}", err=True)


@main.command()
@click.option("--namespace", "-n", default=None, help="One namespace (default: all).")
@click.pass_context
def stats(ctx, namespace):
    """Segments, messages and memory state per namespace."""
    memory = _existing(ctx, check_namespace(namespace)) if namespace else _open(ctx, create=False)
    for name in [namespace] if namespace else memory.namespaces():
        click.echo(json.dumps(memory.stats(name)))


@main.command()
@click.option("--namespace", "-n", default=None, help="One namespace (default: all).")
@click.option("--repair", is_flag=True, help="Repair what can be repaired (every namespace), then check again.")
@click.pass_context
def check(ctx, namespace, repair):
    """Check the store: every stored segment searchable, memory states and lexical indexes readable and complete,
    no write left in flight, no data of other models. One line each; the exit code ORs 1 (unsearchable), 4
    (memory state), 8 (lexical index), 16 (write in flight), 32 (other models); 0 when all is well. --repair
    repairs what it can and checks again."""
    if repair and namespace is not None:
        raise CliError("--repair rebuilds the whole collection, every namespace: leave out --namespace")
    memory = _open(ctx, show_progress=repair, create=False)
    report = memory.check(namespace)
    if repair:
        report = _repaired(memory, report)
    click.echo("\n".join(report.lines()))
    raise SystemExit(report.exit_code)


def _repaired(memory: EvoMemory, report: CheckReport) -> CheckReport:
    """Repair each damage of ``report`` that evomem can repair, saying what it did; the store checked again."""
    from .maintenance.check import REBUILT_BY_REBUILD

    if any(d.kind == "unsearchable" for d in report.damages):
        click.echo("\n".join(memory.repair().lines()))
    for name in sorted({d.namespace for d in report.damages if d.kind in REBUILT_BY_REBUILD and d.namespace}):
        step = memory.rebuild(name)[name]
        click.echo(f"rebuilt the memory state and lexical index of namespace {name} from its stored text (step {step})")
    return memory.check()


@main.command()
@click.option("--namespace", "-n", required=True)
@click.option("--id", "ids", multiple=True, help="A message id to delete (repeatable; at least one).")
@click.option("--rebuild", is_flag=True, help="Rebuild the memory without the deleted messages.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete(ctx, namespace, ids, rebuild, yes):
    """Delete messages by id (`evomem delete-namespace` deletes a whole namespace); exit code 1 when an id is
    not there. A deleted message's trace stays in the latent memory until the namespace is rebuilt (--rebuild)."""
    namespace = check_namespace(namespace)
    check_ids(ids)
    if not ids:
        raise CliError("name the messages to delete with --id; to delete the whole namespace: evomem delete-namespace")
    if not yes:
        click.confirm(f"Delete {len(ids)} messages of {namespace}?", abort=True)
    memory = _existing(ctx, namespace, show_progress=rebuild)
    result = memory.delete(namespace, list(ids))
    click.echo(_deleted_ids(result, len(ids)))
    if result.messages and rebuild:
        click.echo(f"rebuilt the memory of namespace {namespace} (step {memory.rebuild(namespace)[namespace]})")
    elif result.messages:
        rebuild_command = f"evomem reembed --rebuild --namespace {shlex.quote(namespace)}"
        click.echo(f"their trace in the latent memory stays until `{rebuild_command}` (or delete with --rebuild)")
    raise SystemExit(1 if result.missing else 0)


@main.command(name="delete-namespace")
@click.option("--namespace", "-n", required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete_namespace(ctx, namespace, yes):
    """Delete a whole namespace: every message and its memory state."""
    namespace = check_namespace(namespace)
    memory = _existing(ctx, namespace)
    if not yes:
        click.confirm(f"Delete namespace {namespace}, all of its messages and its memory?", abort=True)
    result = memory.delete_namespace(namespace)
    click.echo(
        f"deleted namespace {result.namespace}: {result.messages} messages ({result.segments} segments), its memory"
    )


def _deleted_ids(result: DeleteResult, asked: int) -> str:
    lines = [
        f"deleted {result.messages} of {asked} ids ({result.segments} segments) of namespace {result.namespace}"
        if result.messages
        else f"0 of {asked} ids found in namespace {result.namespace}: nothing deleted"
    ]
    if result.missing:
        lines.append(f"not found: {', '.join(result.missing)}")
    return "\n".join(lines)


@main.command()
@DATA_OPTION
@click.option("-k", default=3, show_default=True, type=int)
@click.option("--keep", is_flag=True, help="Write into --path instead of a temporary directory.")
@click.pass_context
def demo(ctx, data, k, keep):
    """Ingest a real multi-session conversation and watch retrieval change as it evolves."""
    from .demo import find_demo_data, run_demo

    with tempfile.TemporaryDirectory(prefix="evomem-demo-") as scratch:
        memory = _open(ctx, path=None if keep else scratch)
        run_demo(memory, find_demo_data(data), echo=click.echo, k=k)


@main.command()
@DATA_OPTION
@click.option("--turns", default=300, show_default=True, type=int)
@click.option("--repeats", default=3, show_default=True, type=int)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write JSON here.")
@click.option(
    "--no-scaling", is_flag=True, help="Skip the scaling runs: ingest of 100-800 segments, queries at 1K-100K."
)
@click.pass_context
def bench(ctx, data, turns, repeats, output, no_scaling):
    """Ingest speed and peak memory (segment-batching, one pass per segment, static base), linearity of ingest
    cost, memory-state size, and query latency with 1K, 10K and 100K segments in a namespace."""
    require_eval_extra("bench")
    from .bench import run_bench
    from .demo import find_demo_data

    note = functools.partial(click.echo, err=True)
    scaling = not no_scaling
    report = run_bench(ctx.obj["model"], find_demo_data(data), turns, repeats, scaling, show_progress=True, echo=note)
    width = max(map(len, report))
    for name, value in report.items():
        click.echo(f"{name:<{width}}  {value:,.3f}" if isinstance(value, float) else f"{name:<{width}}  {value}")
    if output:
        output.write_text(json.dumps(report, indent=2) + "\n")


@main.command(name="eval")
@click.argument("kind", type=click.Choice(["locomo", "realtalk", "longmemeval", "beir", "records"]))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--systems",
    default="evomem,static,bm25,bm25+static,bm25+evomem",
    show_default=True,
    help="Comma-separated: evomem, static, bm25, bm25+static, bm25+evomem, and the product's own search in each "
    "mode: search-evolvable, search-lexical, search-hybrid.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate the first N groups (streams) only.")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eval-results"),
    show_default=True,
    help="Where the JSON and the plot go.",
)
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Log each group's scores in the output directory as it finishes and, if a run of the same task, model "
    "and systems stopped part way, go on from its log.",
)
@click.pass_context
def evaluate_command(ctx, kind, path, systems, limit, output_dir, resume):
    """Retrieval quality on a benchmark (LoCoMo, REALTALK, LongMemEval, LMEB/BEIR) or on stream records
    (``evomem data build``, e.g. the training sources' dev parts) against baselines."""
    require_eval_extra("eval")
    from .evaluation import evaluate, load_task
    from .evaluation.runner import markdown_table, write_outputs
    from .model.loading import load_encoder

    task = load_task(kind, path)
    if limit is not None:
        task = task.first(limit)
    names = [name.strip() for name in systems.split(",") if name.strip()]
    encoder = load_encoder(ctx.obj["model"])
    resume_dir = output_dir if resume else None
    results = evaluate(task, encoder, names, ctx.obj["segment_batching"], resume_dir=resume_dir)
    click.echo(markdown_table(results))
    for what, written in write_outputs(results, output_dir).items():
        click.echo(f"{what}: {written}")


@main.group()
def data():
    """Training data (EvoTrain-lite)."""


@data.command(name="build")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--count", default=20000, show_default=True, type=int, help="Records (a stream record holds several questions)."
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--msc-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="MSC copy for real filler chatter (e.g. ../shared/data/msc).",
)
@click.option(
    "--documents",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Text files or folders (.txt/.md/.rst) to cut into document samples (repeatable).",
)
@click.option("--msc-share", default=0.15, show_default=True, type=float, help="Share of MSC inverse-cloze samples.")
@click.option(
    "--msc-long-share", default=0.0, show_default=True, type=float, help="Share of long MSC streams (100-600 turns)."
)
@click.option(
    "--msc-facts-share",
    default=0.0,
    show_default=True,
    type=float,
    help="Share of MSC streams asking for the turns behind the speakers' persona facts.",
)
@click.option("--document-share", default=0.15, show_default=True, type=float, help="Share of document samples.")
@click.option(
    "--late-share",
    default=0.0,
    show_default=True,
    type=float,
    help="Share of the MSC, QMSum and FriendsQA questions asked at their stream's end instead.",
)
@click.option("--friendsqa-dir", type=click.Path(file_okay=False, path_type=Path), help="FriendsQA copy.")
@click.option("--friendsqa-share", default=0.0, show_default=True, type=float, help="Share of FriendsQA scene runs.")
@click.option("--qmsum-dir", type=click.Path(file_okay=False, path_type=Path), help="QMSum copy (train, val).")
@click.option("--qmsum-share", default=0.0, show_default=True, type=float, help="Share of QMSum meeting windows.")
@click.option("--sgd-dir", type=click.Path(file_okay=False, path_type=Path), help="SGD copy (dev, test).")
@click.option("--sgd-share", default=0.0, show_default=True, type=float, help="Share of SGD dialogue chains.")
@click.option(
    "--split",
    type=click.Choice(SPLITS),
    default="all",
    show_default=True,
    help=f"Keep the groups of one side of the split ({DEV_SHARE:.0%} of groups go to dev).",
)
def data_build(
    output,
    count,
    seed,
    msc_dir,
    documents,
    msc_share,
    msc_long_share,
    msc_facts_share,
    document_share,
    late_share,
    split,
    **real,
):
    """Generate training records (JSONL): synthetic dialogues, real MSC dialogues, your documents, and the
    real-language sources FriendsQA, QMSum and SGD."""
    from .training.data import STREAM_SOURCES, RealSource, build

    sources = []
    for name in STREAM_SOURCES:
        directory, share = real[f"{name}_dir"], real[f"{name}_share"]
        if share and directory is None:
            raise click.UsageError(f"--{name}-share needs --{name}-dir")
        if share:
            sources.append(RealSource(name, directory, share))
    try:
        written = build(
            output,
            count,
            seed,
            msc_dir,
            list(documents),
            msc_share,
            document_share,
            msc_long_share=msc_long_share,
            msc_facts_share=msc_facts_share,
            late_share=late_share,
            real=sources,
            split=split,
        )
    except (EvoMemError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {sum(written.records.values())} records to {output}")
    for source, number in sorted(written.records.items()):
        click.echo(f"  {source:<36} {number}")
    click.echo(f"{sum(written.questions.values())} questions")
    for template, number in sorted(written.questions.items()):
        click.echo(f"  {template:<36} {number}")


@data.command(name="stats")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def data_stats(path):
    """Records, questions and segments per record of a training file, per source."""
    from .training.stats import read_streams, source_stats

    try:
        rows = source_stats(read_streams(path))
    except EvoMemError as error:
        raise click.ClickException(str(error)) from None
    click.echo("| source | records | questions | distinct questions | groups | segments min / median / max |")
    click.echo("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        segments = f"{r.segments_min} / {r.segments_median:g} / {r.segments_max}"
        click.echo(f"| {r.source} | {r.records} | {r.questions} | {r.distinct_questions} | {r.groups} | {segments} |")


@main.command()
@click.option("--data", "data_path", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--dev-data", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--output", type=click.Path(file_okay=False), required=True)
@click.option("--init-model", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--steps", default=1000, show_default=True, type=int)
@click.option("--batch-size", default=8, show_default=True, type=int)
@click.option("--lr", default=2e-4, show_default=True, type=float)
@click.option("--warmup-steps", default=50, show_default=True, type=int)
@click.option(
    "--tau",
    default=0.1,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Temperature of the contrastive and memory losses (lower: the loss looks harder at the top ranks).",
)
@click.option("--memory-loss-weight", default=1.0, show_default=True, type=float)
@click.option("--regulariser-weight", default=1.0, show_default=True, type=float)
@click.option("--no-length-weighting", is_flag=True)
@click.option("--no-queue", is_flag=True, help="Ablation: keep only the last step's latents.")
@click.option("--queue-steps", type=click.IntRange(min=1), default=None, help="L of a fresh model (default 32).")
@click.option("--query-tokens", type=click.IntRange(min=1), default=None, help="K of a fresh model (default 4).")
@click.option(
    "--grad-window",
    default=24,
    show_default=True,
    type=click.IntRange(min=0),
    help="Segments before a question that its loss backpropagates into (0 = all); the rest are read without grad.",
)
@click.option(
    "--evidence-window",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Also read each evidence segment and the N-1 segments before it with grad, however far back (0 = off).",
)
@click.option(
    "--far-negatives",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Also read a question's N far segments most like it (static cosine) with grad, in evidence windows (0 = off).",
)
@click.option(
    "--max-questions",
    default=4,
    show_default=True,
    type=click.IntRange(min=0),
    help="Questions of a stream per step, drawn by the seeded order (0 = all).",
)
@click.option("--gradient-checkpointing", is_flag=True)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--checkpoint-every", default=50, show_default=True, type=int)
@click.option("--eval-every", default=100, show_default=True, type=int)
@click.option("--dev-samples", default=200, show_default=True, type=click.IntRange(min=1), help="Dev streams used.")
@click.option("--fresh", is_flag=True, help="Ignore an existing checkpoint in --output.")
@click.pass_context
def train(
    ctx,
    data_path,
    dev_data,
    output,
    init_model,
    steps,
    batch_size,
    lr,
    warmup_steps,
    tau,
    memory_loss_weight,
    regulariser_weight,
    no_length_weighting,
    no_queue,
    queue_steps,
    query_tokens,
    grad_window,
    evidence_window,
    far_negatives,
    max_questions,
    gradient_checkpointing,
    seed,
    checkpoint_every,
    eval_every,
    dev_samples,
    fresh,
):
    """Train an EvoEncoder (resumes from OUTPUT/checkpoint unless --fresh).

    Records (JSONL) are streams of segments with questions asked at points along them, or single-question
    samples (asked after the last segment). Each stream is read in order from an empty memory; a question is
    encoded with the memory at its point and ranks the segments before it. --queue-steps / --query-tokens
    shape a fresh model's memory (L steps x K latents). Every --eval-every steps the log gets dev R@1/5/10
    per source, of the model, of the static base and of BM25 (docs/training.md).
    """
    from .training.trainer import TrainConfig, Trainer

    if dev_data:
        require_eval_extra("train --dev-data")

    config = TrainConfig(
        data=data_path,
        dev_data=dev_data,
        output=output,
        init_model=init_model,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        warmup_steps=warmup_steps,
        tau=tau,
        memory_loss_weight=memory_loss_weight,
        regulariser_weight=regulariser_weight,
        length_weighting=not no_length_weighting,
        segment_batching=ctx.obj["segment_batching"],
        no_queue=no_queue,
        queue_steps=queue_steps,
        query_tokens=query_tokens,
        grad_window=grad_window,
        evidence_window=evidence_window,
        far_negatives=far_negatives,
        max_questions=max_questions,
        gradient_checkpointing=gradient_checkpointing,
        seed=seed,
        checkpoint_every=checkpoint_every,
        eval_every=eval_every,
        dev_samples=dev_samples,
    )
    try:
        trainer = Trainer(config)
    except EvoMemError as error:
        raise click.ClickException(str(error)) from None
    trainer.train(resume=not fresh)
    click.echo(f"final model: {Path(output) / 'final'}")


@main.command()
@click.option("--from", "source", default=None, help="Fingerprint of the old model (default: the only other one).")
@click.option("--namespace", "-n", "namespaces", multiple=True, help="Only these namespaces (repeatable).")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(min=1), help="Segments a commit.")
@click.option("--drop-source", is_flag=True, help="Delete the old model's collection and states when done.")
@click.option("--rebuild", is_flag=True, help="Rebuild this model's memory states from its stored text instead.")
@click.pass_context
def reembed(ctx, source, namespaces, batch_size, drop_source, rebuild):
    """Re-encode a store written by another model with this one (--model), resumably; or --rebuild memory states."""
    memory = _open(ctx, show_progress=True, migrating=not rebuild)
    if rebuild:
        steps = {}
        for name in list(namespaces) or [None]:
            steps.update(memory.rebuild(name, show_progress=True))
        for name, step in sorted(steps.items()):
            click.echo(f"rebuilt the memory of namespace {name} (step {step})")
        return
    result = memory.reembed(
        source,
        namespaces=list(namespaces) or None,
        batch_segments=batch_size,
        show_progress=True,
        drop_source=drop_source,
    )
    for name, count in sorted(result.items()):
        click.echo(f"namespace {name}: {count} segments re-embedded with model {memory.fingerprint}")


@main.command()
@click.option(
    "--to",
    "target",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The model to upgrade to (default: this evomem's default).",
)
@click.option("--replace", is_flag=True, help="Discard data the new model already holds in the store.")
@click.option("--drop-old", is_flag=True, help="Delete the old model's data after the swap (kept by default).")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(min=1), help="Segments a commit.")
@click.option("--check", "check_only", is_flag=True, help="Only say the store's model and whether one is newer.")
@click.pass_context
def upgrade(ctx, target, replace, drop_old, batch_size, check_only):
    """Re-encode the store with a new model online (the old one answers until the swap); resumable after a kill."""
    memory = _open(ctx, show_progress=True, migrating=True, create=False)
    if check_only:
        click.echo(f"the store at {memory.path} is on model {memory.fingerprint}")
        if memory.newer_default:
            click.echo("this evomem ships another default model: `evomem upgrade` re-encodes the store with it")
        return
    report = memory.upgrade(target, replace=replace, drop_old=drop_old, batch_segments=batch_size, show_progress=True)
    if report.source is None:
        click.echo(f"the store at {memory.path} is on model {report.target} already; nothing to do")
        return
    total = sum(report.segments.values())
    resumed = " (an interrupted upgrade, resumed)" if report.resumed else ""
    click.echo(
        f"upgraded the store at {memory.path} from model {report.source} to {report.target}{resumed}: "
        f"{total} segments in {len(report.segments)} namespaces re-encoded"
    )
    if report.dropped_source:
        click.echo(f"deleted the data of model {report.source}")
    else:
        click.echo(f"the data of model {report.source} is kept (`--drop-old` deletes it)")


@main.command()
@click.option("--count", default=30, show_default=True, type=int, help="Synthetic conversations.")
@click.pass_context
def probe(ctx, count):
    """Temporal-sensitivity probe: does the top hit land in the asked third (first / middle / last)?"""
    require_eval_extra("probe")
    from .evaluation.probe import probe_table, run_probe
    from .model.loading import load_encoder

    click.echo(probe_table(run_probe(load_encoder(ctx.obj["model"]), count=count, show_progress=True)))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Write threads: writes of this many namespaces are encoded at the same time.",
)
@click.option(
    "--api-keys",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="EVOMEM_API_KEYS",
    help="API key file made with `evomem keys add` (also $EVOMEM_API_KEYS).",
)
@click.option("--no-auth", is_flag=True, help="Serve without API keys: a loopback --host only.")
@click.option(
    "--max-body-bytes",
    default=MAX_BODY_BYTES,
    show_default=True,
    type=click.IntRange(min=1024),
    help="The largest request body; a larger one is refused with 413 (messages: see --max-message-chars).",
)
@click.pass_context
def serve(ctx, host, port, workers, api_keys, no_auth, max_body_bytes):
    """Serve the memory as a REST API (OpenAPI docs at /docs); needs the `server` extra. Each API key reaches
    the namespaces that start with its prefix; SIGTERM finishes the batches in flight, then stops."""
    from .service.auth import KeyFile, is_loopback

    require_extra("serve", "server", SERVER_MODULES)
    if no_auth == (api_keys is not None):
        raise CliError("give --api-keys FILE (see `evomem keys add`), or --no-auth on a loopback --host")
    if no_auth and not is_loopback(host):
        raise CliError(f"--no-auth serves anyone who can reach {host}: allowed on a loopback host (127.0.0.1) only")
    keys = None if no_auth else KeyFile(api_keys)
    if keys is not None and not keys.records:
        raise CliError(f"no API keys in {api_keys}: make one with `evomem keys add --file {api_keys} --prefix P`")
    import uvicorn

    from .service.app import create_app

    app = create_app(functools.partial(_open, ctx), keys, workers, max_body_bytes)
    uvicorn.run(app, host=host, port=port, log_level="info")


@main.group()
def keys():
    """API keys of `evomem serve`: each reaches the namespaces starting with its prefix (its tenant)."""


KEY_FILE_OPTION = click.option("--file", "key_file", type=click.Path(dir_okay=False, path_type=Path), required=True)


@keys.command(name="add")
@KEY_FILE_OPTION
@click.option("--prefix", required=True, help='Namespaces this key reaches, e.g. "tenant-a:" ("" for all).')
@click.option("--name", default=None, help="A name for the key (default key-N).")
@click.option("--expires", default=None, help="When the key stops working, ISO 8601 (UTC), e.g. 2027-01-31.")
def keys_add(key_file, prefix, name, expires):
    """Make a key, store its sha256 hash in FILE and print the token: it is shown this once."""
    from .service.auth import KeyFile

    click.echo(KeyFile(key_file).add(prefix, name, expires))
    click.echo(f"(only its hash is kept in {key_file}: store the token now)", err=True)


@keys.command(name="list")
@KEY_FILE_OPTION
def keys_list(key_file):
    """The keys of FILE: name, prefix, expiry and the start of the hash."""
    from .service.auth import KeyFile

    for record in KeyFile(key_file).records:
        until = f"expires={record.expires}" if record.expires else "expires=never"
        click.echo(f"{record.name}  prefix={record.prefix!r}  {until}  sha256={record.sha256[:12]}...")


@keys.command(name="revoke")
@KEY_FILE_OPTION
@click.argument("name")
def keys_revoke(key_file, name):
    """Delete the key NAME from FILE; a running server refuses it from its next request on."""
    from .service.auth import KeyFile

    record = KeyFile(key_file).revoke(name)
    click.echo(f"revoked {record.name} (prefix {record.prefix!r})")


@keys.command(name="rotate")
@KEY_FILE_OPTION
@click.argument("name")
def keys_rotate(key_file, name):
    """Give the key NAME a new token (same prefix and expiry) and print it; the old token stops working."""
    from .service.auth import KeyFile

    click.echo(KeyFile(key_file).rotate(name))
    click.echo(f"(only its hash is kept in {key_file}: store the token now)", err=True)


@main.command(name="mcp")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="With --transport http: a loopback host.")
@click.option("--port", default=8766, show_default=True, type=click.IntRange(0, 65535))
@click.option("--namespace", "-n", default=None, help="Serve this namespace only (default: named in each call).")
@click.pass_context
def mcp_command(ctx, transport, host, port, namespace):
    """Serve the memory as MCP tools (remember, recall, forget, forget_namespace, list_namespaces, stats) over
    stdio or streamable HTTP at /mcp; needs the `server` extra."""
    from .service.auth import is_loopback

    require_extra("mcp", "server", SERVER_MODULES)
    if transport == "http" and not is_loopback(host):
        raise CliError(f"the MCP server has no API keys: serve it on a loopback host (127.0.0.1), not {host}")
    if namespace is not None:
        namespace = check_namespace(namespace)
    from .service.mcp import OpeningMemory, create_mcp

    server = create_mcp(OpeningMemory(lambda: _open(ctx)), namespace)  # tools listed while the model loads
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)
