"""`tunesmith group`: load the recipe, run the group driver, print the headline comparison."""

from __future__ import annotations

from pathlib import Path

from tunesmith.progress import console


def group_recipe(recipe_path: Path, out: Path, overrides: list[str]) -> dict:
    from tunesmith.cli.outputs import output_folder
    from tunesmith.config import load_recipe
    from tunesmith.group.driver import run_group

    recipe = load_recipe(recipe_path, overrides)
    output_folder(out)
    console.print(f"group folder: [bold]{out}[/bold]")
    result = run_group(recipe, out, on_member=_member_done, on_step=console.print)
    if result["members"]:
        _print_headline(result, out)
    if result["failed_members"]:  # last, after the results: the line the user must not miss
        from tunesmith.group.driver import MembersFailed

        raise MembersFailed(result["failed_members"], out)
    return result


def _print_headline(result: dict, out: Path) -> None:
    from tunesmith.cli.eval_print import figures

    out_figures = figures()  # the figures on stdout, the folders and progress on stderr
    key, best = result["headline"], result["best_member"]
    out_figures.print(f"\nbest member on {key}: {best}")
    for comparison in result["comparisons"]:
        if comparison["a"] == best and key in comparison["metrics"]:
            m = comparison["metrics"][key]
            out_figures.print(
                f"  {comparison['b']:<22} {m['b']:.4f} vs {m['a']:.4f}  diff {m['delta']:+.4f} "
                f"[{m['ci_low']:+.4f}, {m['ci_high']:+.4f}] p={m['p_value']:.3f}"
            )
    console.print(f"compare: [bold]{out / 'compare.json'}[/bold]")
    if "perplexity_left_out" in result:
        console.print(result["perplexity_left_out"])
    for name, why in result["skipped"].items():
        console.print(f"{name}: skipped ({why})")
    console.print(f"report: [bold]{result['report']}[/bold]")


def _member_done(k: int, gm, outcome: dict) -> None:
    if "failed" in outcome:
        console.print(f"member {gm.member.name}: failed ({outcome['failed']})")
        return
    stages = ", ".join(f"{name} {status}" for name, status in outcome.items())
    console.print(f"member {gm.member.name}: {stages}")
