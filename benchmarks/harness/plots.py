"""The scaling figure: one panel per sweep, step time against x."""
import os
import os.path as osp
from typing import Any, Dict, List, Optional


def plot_sweeps(sweep_list: List[Dict[str, Any]], path: str) -> Optional[str]:
    """One panel per sweep, step time (ms) against x; returns the path, or None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if not sweep_list:
        return None
    cols = min(3, len(sweep_list))
    rows = (len(sweep_list) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    for ax, sweep in zip(axes.flat, sweep_list):
        for c in sweep['curves']:
            ax.plot(c['x'], [y * 1e3 for y in c['step_s']], 'o-', label=c['method'], ms=4)
        ax.set_xlabel(sweep['x_name'] + (' (thousands)' if sweep['x_name'].startswith('pixels') else ''))
        ax.set_ylabel('step time (ms)')
        ax.set_title(sweep['name'].replace('_', ' '), fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(sweep_list):]:
        ax.axis('off')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path
