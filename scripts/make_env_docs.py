"""Writes one docs page per env family, from its class docstring, with a picture.

Each page ``docs/envs/<family>.md`` is the docstring of the family's env class in
Markdown (Sphinx roles and ````code```` become plain Markdown code, ``::`` blocks
become runnable Python blocks), and ``docs/img/envs/<family>.png`` is what
``render()`` draws for the family's first test task with ``seed=0``. The pages
are generated: edit the docstrings, then run this again::

    python scripts/make_env_docs.py            # writes the pages and pictures
    python scripts/make_env_docs.py --check    # fails if any is out of date

``tests/test_scripts.py`` runs ``--check``.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path

import gymnasium as gym
import matplotlib.image
import numpy as np

import metanav_envs

REPO = Path(__file__).resolve().parents[1]

ROLE = re.compile(r":(?:class|func|meth|data|attr|mod):`(~?)([\w.]+)`")
IMPORTS = (
    "import gymnasium\n\nimport metanav_envs  # noqa: F401  (registers the ids)\n\n"
)


def family(env_id: str) -> str:
    """``"MetaNav/GoalGrid-v0"`` → ``"GoalGrid"``."""
    return env_id.split("/")[1].rsplit("-v", 1)[0]


def env_class(env_id: str) -> type:
    return type(gym.make(env_id).unwrapped)


def picture(env_id: str) -> tuple[np.ndarray, object]:
    """What ``render()`` draws on reset for the first test task of ``seed=0``,
    scaled up by a whole factor to at least 256 pixels a side."""
    env = gym.make(env_id, render_mode="rgb_array")
    task = env.unwrapped.sample_tasks(1, "test", seed=0)[0]
    env.reset(seed=0, options={"task": task})
    rgb = env.render()
    scale = max(1, -(-256 // max(rgb.shape[:2])))
    return rgb.repeat(scale, axis=0).repeat(scale, axis=1), task


def _inline(text: str) -> str:
    text = ROLE.sub(lambda m: f"`{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}`", text)
    return text.replace("``", "`")


def docstring_markdown(doc: str) -> str:
    """A Google/Gymnasium-style class docstring (after its summary) as Markdown."""
    out: list[str] = []
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            head = line.rstrip()[:-2].rstrip()
            if head:
                out.append(_inline(head) + ":")
            # The literal block: the indented lines after a blank one.
            i += 1
            code: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i][:4] == "    "):
                code.append(lines[i][4:])
                i += 1
            body = "\n".join(code).strip("\n")
            out += ["", "```python", IMPORTS + body, "```", ""]
            continue
        out.append(_inline(line))
        i += 1
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def family_page(env_id: str) -> str:
    """The Markdown page of ``env_id``'s family."""
    cls = env_class(env_id)
    doc = inspect.getdoc(cls)
    summary, _, rest = doc.partition("\n")
    name = family(env_id)
    _, task = picture(env_id)
    return (
        f"# {name}: `{env_id}`\n\n"
        f"{_inline(summary)}\n\n"
        f"![{name}: the agent at its start (red) and the goal (green)]"
        f"(../img/envs/{name.lower()}.png)\n\n"
        f'*The first test task of `sample_tasks(1, "test", seed=0)`, '
        f"`{task.to_dict()}`, as `render()` draws it on reset: the agent in "
        "red, the goal in green.*\n\n"
        f"{docstring_markdown(rest)}\n"
        f"*This page is the docstring of `metanav_envs.{cls.__name__}`, written by "
        "`scripts/make_env_docs.py`; edit the docstring and run the script again. "
        "[docs/envs.md](../envs.md) explains what the families share.*\n"
    )


def read_png(path: Path) -> np.ndarray:
    """An RGB PNG as uint8 ``[height, width, 3]``."""
    image = matplotlib.image.imread(path)
    return np.round(image[..., :3] * 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Write the env family pages of docs/.")
    p.add_argument("--check", action="store_true", help="only check, write nothing")
    p.add_argument(
        "--docs", type=Path, default=REPO / "docs", help="the docs folder (default)"
    )
    args = p.parse_args(argv)
    stale = []
    for env_id in metanav_envs.ENV_IDS:
        name = family(env_id).lower()
        page = args.docs / "envs" / f"{name}.md"
        png = args.docs / "img" / "envs" / f"{name}.png"
        text, (rgb, _) = family_page(env_id), picture(env_id)
        if args.check:
            if not page.exists() or page.read_text() != text:
                stale.append(str(page))
            if not png.exists() or not np.array_equal(read_png(png), rgb):
                stale.append(str(png))
            continue
        page.parent.mkdir(parents=True, exist_ok=True)
        png.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(text)
        matplotlib.image.imsave(png, rgb)
        print(f"wrote {page} and {png}")
    if stale:
        print(
            f"error: {', '.join(stale)} differ from the docstrings and render(). "
            "Run python scripts/make_env_docs.py and commit the result.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
