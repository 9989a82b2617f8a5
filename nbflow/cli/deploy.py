"""Deployment commands: deploy, deployments, deployment show|pause|resume|delete, trigger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from nbflow.cli.output import console, seconds, styled, when

_EXECUTOR_HELP = "local (default) or dask://HOST:PORT to run the notebook on a Dask worker."


_PARAM_OPTS = ("-p", "--param", "--parameters")


class ParamCommand(click.Command):
    """A command whose ``-p`` takes ``NAME=VALUE`` (nbflow) or ``NAME VALUE`` (papermill).

    Before click parses, ``-p NAME VALUE`` becomes ``-p NAME=VALUE``: the first word after
    ``-p`` holds no ``=`` only in the two-word form (a name is an identifier).
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                out.extend(args[i:])
                break
            if arg in _PARAM_OPTS and i + 2 < len(args) and "=" not in args[i + 1]:
                out.extend([arg, f"{args[i + 1]}={args[i + 2]}"])
                i += 3
                continue
            out.append(arg)
            i += 1
        return super().parse_args(ctx, out)


def _param_options(fn: Any) -> Any:
    """``-p``, ``-r``, ``-y`` and ``-f``: papermill's parameter options (and nbflow's NAME=VALUE)."""
    for option in reversed([
        click.option("-p", "--param", "--parameters", "params", multiple=True, metavar="NAME=VALUE",
                     help="Parameter value (repeatable); also papermill's '-p NAME VALUE'. "
                          "Typed parameters convert the text; untyped ones take numbers, "
                          "True/False/true/false and None/null, else the exact text."),
        click.option("-r", "--raw", "--parameters_raw", "raw", nargs=2, multiple=True, metavar="NAME VALUE",
                     help="Parameter value kept as the exact text (papermill's -r)."),
        click.option("-y", "--yaml", "--parameters_yaml", "yaml_texts", multiple=True, metavar="YAML",
                     help="Parameters as a YAML mapping (papermill's -y), e.g. '{n: 3}'."),
        click.option("-f", "--parameters-file", "--parameters_file", "files", multiple=True, metavar="FILE.yaml",
                     type=click.Path(dir_okay=False),
                     help="Parameters from a YAML (or JSON) file (papermill's -f)."),
    ]):
        fn = option(fn)
    return fn


def _yaml_mapping(text: str, where: str) -> dict[str, Any]:
    import yaml
    from papermill.iorw import NoDatesSafeLoader  # papermill's own loader: YAML dates stay text

    from nbflow.errors import ParameterError

    try:
        value = yaml.load(text, Loader=NoDatesSafeLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "unreadable"
        raise ParameterError(f"Parameters {where} are not valid YAML ({problem}{at}); "
                             "give a mapping such as '{region: EU, n: 3}'.") from None
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ParameterError(f"Parameters {where} must be a YAML mapping of names to values, "
                             f"such as '{{region: EU, n: 3}}'; got {type(value).__name__}.")
    return value


def collect_params(params: tuple[str, ...] = (), raw: tuple[tuple[str, str], ...] = (),
                   yaml_texts: tuple[str, ...] = (), files: tuple[str, ...] = ()) -> dict[str, Any]:
    """The parameters of ``-f``, ``-y``, ``-p`` and ``-r``, later ones winning in that order
    (papermill's): YAML values as loaded, ``-p`` text as ``Text``, ``-r`` text as ``str``."""
    from nbflow.deployments.parameters import Text, parse_assignments
    from nbflow.errors import ParameterError

    out: dict[str, Any] = {}
    for file in files:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ParameterError(f"Parameters file '{file}' cannot be read ({exc}); "
                                 "check the path.") from None
        out.update(_yaml_mapping(text, f"in file '{file}'"))
    for text in yaml_texts:
        out.update(_yaml_mapping(text, f"given with -y ({text!r})"))
    out.update({k: Text(v) for k, v in parse_assignments(params).items()})
    for name, value in raw:
        out.update(parse_assignments([f"{name}={value}"]))
    return out


def _zoned(t: Any, tz: str | None = None) -> str:
    """A fire time in its deployment's zone (``tz`` when ``t`` is ISO text from a view)."""
    if t is None:
        return "-"
    if isinstance(t, str):
        import datetime as dt

        from nbflow.core.schedules import load_zone

        t = dt.datetime.fromisoformat(t)
        if tz is not None:
            t = t.astimezone(load_zone(tz))
    return str(t.strftime("%Y-%m-%d %H:%M %Z"))


@click.command(cls=ParamCommand)
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.option("--name", default=None, help="Deployment name (default: the notebook's file name).")
@click.option("--cron", default=None, help="Cron expression, e.g. '0 6 * * *'.")
@click.option("--tz", default=None, help="IANA time zone of the cron expression (default UTC).")
@click.option("--every", default=None, help="Interval: a number and s, m, h or d, e.g. 15m.")
@click.option("--manual", is_flag=True, help="No schedule: runs only with `nbflow trigger`.")
@_param_options
@click.option("--catchup", type=click.Choice(["none", "latest", "all"]), default="latest",
              show_default=True, help="What to do with ticks missed while no scheduler ran.")
@click.option("--max-concurrency", type=int, default=None, help="Runs of this deployment at once.")
@click.option("--retries", type=int, default=0, show_default=True, help="Retries of a failed run.")
@click.option("--retry-delay", type=float, default=10.0, show_default=True, help="Seconds between attempts.")
@click.option("--timeout", type=float, default=None, help="Seconds before the kernel is killed.")
@click.option("--kernel", default=None, help="Kernel name (default: the notebook's kernelspec).")
@click.option("--executor", default="local", show_default=True, help=_EXECUTOR_HELP)
@click.option("--html", is_flag=True, help="Also keep an HTML copy of each executed notebook.")
def deploy(notebook: str, name: str | None, cron: str | None, tz: str | None, every: str | None,
           manual: bool, params: tuple[str, ...], raw: tuple[tuple[str, str], ...],
           yaml_texts: tuple[str, ...], files: tuple[str, ...], catchup: str,
           max_concurrency: int | None, retries: int, retry_delay: float, timeout: float | None,
           kernel: str | None, executor: str, html: bool) -> int:
    """Deploy NOTEBOOK on a schedule (deploying an existing name updates it). Default
    parameters (-p, -r, -y, -f) are checked against the notebook's parameters cell.

    Example: nbflow deploy report.ipynb --name daily-report --cron "0 6 * * *" --tz Europe/Paris -p region=EU
    """
    from nbflow.deployments.service import deploy as deploy_notebook
    from nbflow.deployments.service import list_deployments

    existed = {d.name for d in list_deployments()}
    dep = deploy_notebook(notebook, name=name, cron=cron, every=every, tz=tz, manual=manual,
                          parameters=collect_params(params, raw, yaml_texts, files),
                          catchup=catchup,
                          max_concurrency=max_concurrency, retries=retries,
                          retry_delay=retry_delay, timeout=timeout, kernel=kernel,
                          executor=executor, html=html)
    verb = "Updated" if dep.name in existed else "Deployed"
    nxt = dep.next_run()
    tail = f"; next run {_zoned(nxt)}" if nxt else ""
    console.print(f"{verb} [bold]{dep.name}[/] ({Path(dep.notebook).name}): "
                  f"{dep.schedule.describe()}{tail}.")
    return 0


@click.command()
def deployments() -> int:
    """List deployments: schedule in words, next run in the deployment's zone, last run.

    Example: nbflow deployments
    """
    from nbflow.deployments.views import deployments_view

    deps = deployments_view()
    if not deps:
        console.print("No deployments yet. Create one: nbflow deploy NOTEBOOK --every 1h")
        return 0
    table = Table(box=None, header_style="bold")
    for col in ("name", "notebook", "schedule", "next run", "last run", "state"):
        table.add_column(col)
    for d in deps:
        last = d["last_run"]
        table.add_row(d["name"], Path(d["notebook"]).name,
                      d["schedule"] + (" (paused)" if d["paused"] else ""),
                      _zoned(d["next_run"], d["tz"]), last["run_id"] if last else "-",
                      styled(last["state"] if last else "-"))
    console.print(table)
    return 0


@click.group()
def deployment() -> None:
    """Show, pause, resume or delete one deployment."""


@deployment.command("show")
@click.argument("name")
def show(name: str) -> int:
    """Show a deployment's settings, parameters and recent runs.

    Example: nbflow deployment show daily-report
    """
    from nbflow.core.codec import loads
    from nbflow.deployments.views import deployment_view

    d = deployment_view(name)
    console.print(f"[bold]{d['name']}[/]  {d['notebook']}")
    console.print(f"  schedule     {d['schedule']}" + ("  [yellow]paused[/]" if d["paused"] else ""))
    console.print(f"  next run     {_zoned(d['next_run'], d['tz'])}")
    timeout = d["timeout"]
    console.print(f"  catch-up     {d['catchup']}   max concurrency {d['max_concurrency'] or 'no limit'}"
                  f"   retries {d['retries']} (delay {d['retry_delay']:g} s)"
                  f"   timeout {'none' if timeout is None else f'{timeout:g} s'}")
    console.print(f"  kernel       {d['kernel'] or 'from the notebook'}   executor {d['executor']}")
    for k, v in loads(json.dumps(d["parameters"])).items():
        console.print(f"  -p {k}={v!r}")
    if d["runs"]:
        table = Table(box=None, header_style="bold", title="recent runs", title_justify="left")
        for col in ("run", "scheduled", "state", "attempt", "duration", "error"):
            table.add_column(col)
        for r in d["runs"]:
            table.add_row(r["run_id"], when(r["scheduled_at"]), styled(r["state"]), str(r["attempt"]),
                          seconds(r["duration"]), (r["error"] or "")[:80])
        console.print(table)
    skipped = [t for t in d["ticks"] if t["state"] == "SKIPPED"]
    if skipped:
        console.print(f"  last tick skipped by the catch-up policy: {when(skipped[0]['scheduled_at'])}")
    return 0


@deployment.command("pause")
@click.argument("name")
def pause(name: str) -> int:
    """Stop scheduling NAME (runs already going continue). Example: nbflow deployment pause daily-report"""
    from nbflow.deployments.service import set_paused

    set_paused(name, True)
    console.print(f"Paused {name}.")
    return 0


@deployment.command("resume")
@click.argument("name")
def resume(name: str) -> int:
    """Schedule NAME again from now on. Example: nbflow deployment resume daily-report"""
    from nbflow.deployments.service import set_paused

    d = set_paused(name, False)
    console.print(f"Resumed {name}; next run {_zoned(d.next_run())}.")
    return 0


@deployment.command("delete")
@click.argument("name")
def delete(name: str) -> int:
    """Delete NAME (its runs stay in the history). Example: nbflow deployment delete daily-report"""
    from nbflow.deployments.service import delete_deployment

    delete_deployment(name)
    console.print(f"Deleted {name}.")
    return 0


@click.command(cls=ParamCommand)
@click.argument("name")
@_param_options
@click.option("--no-wait", is_flag=True, help="Start the run in the background and return its id.")
def trigger(name: str, params: tuple[str, ...], raw: tuple[tuple[str, str], ...],
            yaml_texts: tuple[str, ...], files: tuple[str, ...], no_wait: bool) -> int:
    """Run deployment NAME now; wait and print the outcome (exit code 1 if it failed).
    Ctrl-C cancels the run (state CANCELLED; the partial notebook is kept).

    Example: nbflow trigger daily-report -p region=US
    """
    from nbflow.core.states import State
    from nbflow.deployments.service import trigger as trigger_run

    outcome = trigger_run(name, collect_params(params, raw, yaml_texts, files), wait=not no_wait)
    if isinstance(outcome, str):
        console.print(f"Started run {outcome} of {name} in the background; "
                      f"follow it with: nbflow run show {outcome}")
        return 0
    r = outcome
    console.print(f"Run {r.run_id} of {name}: {styled(r.state)} in {seconds(r.duration)}"
                  + (f" (attempt {r.attempt})" if r.attempt > 1 else "") + ".")
    if r.error:
        console.print(f"  {r.error}")
    console.print(f"  notebook: {r.output_path}")
    _skip_final_collection()
    return 0 if r.state is State.SUCCEEDED else 130 if r.state is State.CANCELLED else 1


def _skip_final_collection() -> None:
    """The command is done and the process is about to exit: freeze the heap so the interpreter's
    final garbage collections skip the ~200k objects papermill, nbformat and SQLAlchemy leave
    behind (about 0.3 s of a one-notebook ``trigger``). Everything was flushed already."""
    import gc

    gc.freeze()


COMMANDS = [deploy, deployments, deployment, trigger]
