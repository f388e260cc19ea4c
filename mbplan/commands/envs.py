"""``mbplan envs``: list the registered ``mbplan/*`` environments.

For each id: observation and action spaces, ``max_episode_steps`` and the hidden flags reported in
``info`` (``flag_names``). ``--json`` prints the same as a JSON list.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

HELP = "list the registered mbplan/* environments with their spaces and hidden flags"

NAMESPACE = "mbplan/"


def describe_envs() -> list[dict[str, Any]]:
    """Describe every registered ``mbplan/*`` env (imports ``sims`` to register them).

    Returns:
        One dict per id, sorted by id: ``id``, ``entry_point``, ``observation_space``,
        ``action_space`` (their reprs), ``obs_dim``, ``action_dim``, ``max_episode_steps``,
        ``flag_names`` and ``observation_names``.
    """
    import gymnasium as gym

    import sims  # noqa: F401  (registers the envs)

    rows = []
    for env_id in sorted(i for i in gym.registry if i.startswith(NAMESPACE)):
        spec = gym.spec(env_id)
        env = gym.make(env_id)
        try:
            rows.append(
                {
                    "id": env_id,
                    "entry_point": str(spec.entry_point),
                    "observation_space": repr(env.observation_space),
                    "action_space": repr(env.action_space),
                    "obs_dim": int(env.observation_space.shape[0]),
                    "action_dim": int(env.action_space.shape[0]),
                    "max_episode_steps": spec.max_episode_steps,
                    "flag_names": list(getattr(env.unwrapped, "flag_names", ())),
                    "observation_names": list(getattr(env.unwrapped, "observation_names", ())),
                }
            )
        finally:
            env.close()
    return rows


def main(argv: list[str]) -> int:
    """Print the registered envs.

    Args:
        argv: command-line arguments after ``envs``.

    Returns:
        0.
    """
    parser = argparse.ArgumentParser(prog="mbplan envs", description=HELP)
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of text")
    args = parser.parse_args(argv)
    rows = describe_envs()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        flags = ", ".join(row["flag_names"]) or "-"
        print(row["id"])
        print(f"  observation: {row['observation_space']}")
        if row["observation_names"]:
            print(f"               {', '.join(row['observation_names'])}")
        print(f"  action:      {row['action_space']}")
        print(f"  max steps:   {row['max_episode_steps']}")
        print(f"  info flags:  {flags}")
    print(f"\n{len(rows)} envs; use them with: import sims, gymnasium; gymnasium.make(ID)")
    return 0
