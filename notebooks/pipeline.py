"""The orders pipeline as a module: the same assets as etl.ipynb, for `nbflow materialize -f`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import nbflow as nf

DATA = Path(__file__).with_name("data") / "orders.csv"
EUR_PER_USD = 0.92  # a global the code reads: changing it makes clean_orders stale


@nf.asset(group="sales", tags={"source": "csv"})
def raw_orders() -> pd.DataFrame:
    """Orders as exported by the shop."""
    return pd.read_csv(DATA, parse_dates=["date"])


@nf.asset(io="parquet", group="sales",
          checks=[nf.check(lambda df: bool(df.amount_eur.ge(0).all()), name="non_negative")])
def clean_orders(raw_orders: pd.DataFrame) -> pd.DataFrame:
    """Orders with a positive amount, in euros."""
    clean = raw_orders[raw_orders.amount > 0].copy()
    clean["amount_eur"] = (clean.amount * EUR_PER_USD).round(2)
    return clean


@nf.asset(io="parquet", group="reports")
def daily_revenue(clean_orders: pd.DataFrame) -> pd.DataFrame:
    """Revenue per day."""
    by_day = clean_orders.groupby(clean_orders.date.dt.date).amount_eur.sum()
    return by_day.rename("revenue").reset_index()


@nf.asset(group="reports")
def top_customers(clean_orders: pd.DataFrame, n: int = 3) -> pd.Series:
    """The customers with the most revenue."""
    return clean_orders.groupby("customer").amount_eur.sum().nlargest(n)
