"""Write the two example series shipped for "Your own data" (seeded: the same files every time).

    python assets/make_example_csvs.py        # rewrites assets/daily_temperature.csv and
                                              # assets/predator_prey.csv

* daily_temperature.csv: three years of a made-up town's daily mean temperature: a yearly
  cycle, a small weekly rhythm (a "city heat" effect on weekdays), and weather that lingers for a
  few days (AR(1) noise). One numeric column and a date column.
* predator_prey.csv: hares and lynx from the Lotka-Volterra equations (integrated with RK4,
  sampled weekly), with a little multiplicative observation noise. Two coupled numeric columns
  and a week number as time column: the lynx peak follows the hare peak, so a network that
  reads both columns can forecast better than one that reads either alone.

Nothing here is real data; the numbers only look plausible.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def daily_temperature(seed: int = 7) -> str:
    rng = np.random.default_rng(seed)
    days = 3 * 365
    t = np.arange(days)
    yearly = 11.0 - 9.5 * np.cos(2 * np.pi * (t - 15) / 365.25)  # coldest mid-January
    weekly = 0.6 * (np.asarray([(dt.date(2021, 1, 1) + dt.timedelta(int(d))).weekday() < 5
                                for d in t], dtype=float) - 5 / 7)
    weather = np.zeros(days)
    for day in range(1, days):  # AR(1): a warm spell lasts a few days
        weather[day] = 0.7 * weather[day - 1] + rng.normal(0, 1.6)
    temperature = yearly + weekly + weather
    start = dt.date(2021, 1, 1)
    lines = ["date,temperature_c"]
    lines += [f"{start + dt.timedelta(int(d))},{value:.1f}" for d, value in zip(t, temperature)]
    return "\n".join(lines) + "\n"


def predator_prey(seed: int = 11) -> str:
    rng = np.random.default_rng(seed)
    alpha, beta, delta, gamma = 0.25, 0.0125, 0.0038, 0.38  # per week: a cycle of ~20 weeks
    state = np.array([40.0, 9.0])  # hares, lynx (thousands)

    def rates(s: np.ndarray) -> np.ndarray:
        hares, lynx = s
        return np.array([alpha * hares - beta * hares * lynx,
                         delta * hares * lynx - gamma * lynx])

    weeks, substeps, h = 520, 20, 1.0 / 20
    rows = []
    for week in range(weeks):
        rows.append(state.copy())
        for _ in range(substeps):  # classic Runge-Kutta, 20 steps per week
            k1 = rates(state)
            k2 = rates(state + h / 2 * k1)
            k3 = rates(state + h / 2 * k2)
            k4 = rates(state + h * k3)
            state = state + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    observed = np.array(rows) * rng.lognormal(0.0, 0.05, size=(weeks, 2))
    lines = ["week,hares,lynx"]
    lines += [f"{week},{hares:.2f},{lynx:.2f}" for week, (hares, lynx) in enumerate(observed)]
    return "\n".join(lines) + "\n"


EXAMPLES = {"daily_temperature.csv": daily_temperature, "predator_prey.csv": predator_prey}


def main() -> None:
    for name, make in EXAMPLES.items():
        path = HERE / name
        path.write_text(make(), encoding="utf-8")
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
