"""Run one transfer training process with the right train script (used by the launchers here).

    python tools/benchmarks/train_transfer.py {mmdet,mmseg} CONFIG [train.py args...]

With CUDA it runs the library's own ``tools/train.py`` (shipped in the wheel under
``<mmdet|mmseg>/.mim/tools/train.py``), so transfer numbers come from the unmodified mmdet/mmseg
tools. Without CUDA it runs mmspatial's ``tools/train.py`` (same flags), whose ``--launcher
pytorch|slurm`` also works on CPUs (gloo, SyncBN reverted to BN; see ``mmspatial/engine/launch.py``).
``MMSPATIAL_TRAIN_SCRIPT=library|mmspatial|/path/to/train.py`` forces a choice.
"""
import os
import os.path as osp
import runpy
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LIBS = ('mmdet', 'mmseg')


def library_train_script(lib: str) -> str:
    module = __import__(lib)
    path = osp.join(osp.dirname(module.__file__), '.mim', 'tools', 'train.py')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{lib} has no {path}: install {lib} from a wheel with its .mim '
                                'tools, or set MMSPATIAL_TRAIN_SCRIPT=mmspatial')
    return path


def choose_train_script(lib: str) -> str:
    choice = os.environ.get('MMSPATIAL_TRAIN_SCRIPT', '')
    if choice == 'library':
        return library_train_script(lib)
    if choice == 'mmspatial':
        return osp.join(ROOT, 'tools', 'train.py')
    if choice:
        return choice
    import torch
    if torch.cuda.is_available():
        return library_train_script(lib)
    return osp.join(ROOT, 'tools', 'train.py')


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in LIBS:
        raise SystemExit(f'usage: {sys.argv[0]} {{{",".join(LIBS)}}} CONFIG [train.py args...]')
    lib, rest = sys.argv[1], sys.argv[2:]
    script = choose_train_script(lib)
    print(f'mmspatial: training with {script}', flush=True)
    sys.argv = [script] + rest
    sys.path.insert(0, osp.dirname(script))
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
