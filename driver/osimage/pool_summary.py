"""The table that ends several builds over build hosts: one row a build, failures named with their builder."""

from __future__ import annotations

from rich.table import Table

from osimage.exit_codes import RESULTS


def summary_table(outcomes):
    """The summary of several builds (build_pool.Outcome): one row each, failures named with their builder."""
    table = Table(title='%d of %d builds succeeded' % (sum(1 for o in outcomes if o.code == 0), len(outcomes)))
    for col in ('request', 'builder', 'result', 'seconds', 'output / failure'):
        table.add_column(col, overflow='fold')
    for o in outcomes:
        table.add_row(o.request, o.builder, RESULTS.get(o.code, 'exit %d' % o.code), '%.0f' % o.seconds,
                      o.output_dir if o.code == 0 else o.message)
    return table
