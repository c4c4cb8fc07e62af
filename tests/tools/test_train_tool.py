"""tools/train.py, dist_train.sh and slurm_train.sh as a user runs them (real subprocesses)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs' / 'byol' / 'byol_resnet18_1xb32-coslr-8e_demo.py'
# A few iterations of the demo: 16 images, batch 4 -> 4 iterations per epoch.
TINY = [
    'train_dataloader.dataset.num_images=16', 'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
    'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=1',
    'default_hooks.checkpoint.max_keep_ckpts=5', 'visualizer.vis_backends.1=None'
]


def tiny_options(max_epochs):
    opts = [o for o in TINY if not o.startswith('visualizer')]
    return opts + [f'train_cfg.max_epochs={max_epochs}']


def run(cmd, env=None, timeout=600):
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', **(env or {}))
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f'{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
    return proc.stdout + proc.stderr


def checkpoint_meta(path):
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    return ckpt['meta']


@pytest.mark.slow
def test_train_then_resume_continues_iteration_count(tmp_path):
    work = tmp_path / 'work'
    out = run(
        [sys.executable, 'tools/train.py',
         str(CONFIG), '--work-dir',
         str(work), '--cfg-options', *tiny_options(2)])
    assert 'latest checkpoint' in out
    assert checkpoint_meta(work / 'epoch_2.pth')['iter'] == 8
    out = run([
        sys.executable, 'tools/train.py',
        str(CONFIG), '--work-dir',
        str(work), '--resume', '--cfg-options', *tiny_options(3)
    ])
    assert 'resumed epoch: 2, iter: 8' in out.lower().replace('resumed epoch', 'resumed epoch')
    meta = checkpoint_meta(work / 'epoch_3.pth')
    assert meta['epoch'] == 3 and meta['iter'] == 12


@pytest.mark.slow
def test_dist_train_two_cpu_processes(tmp_path):
    work = tmp_path / 'dist'
    out = run(
        ['bash', 'tools/dist_train.sh',
         str(CONFIG), '2', '--work-dir',
         str(work), '--cfg-options', *tiny_options(1)],
        env=dict(PYTHON=sys.executable, PORT=str(29500 + os.getpid() % 1000)))
    assert 'distributed training on the CPU with gloo' in out
    log = next(work.glob('*/*.log')).read_text()
    assert 'Distributed training: True' in log and "backend': 'gloo'" in log
    assert "type='CPUDistributedDataParallel'" in log
    assert 'reverting SyncBN to BN' in log  # the demo config asks for SyncBN: reverted for CPU DDP
    # 16 images / (2 ranks x batch 4) = 2 iterations per epoch.
    assert checkpoint_meta(work / 'epoch_1.pth')['iter'] == 2


def test_slurm_train_builds_srun_line(tmp_path):
    fake = tmp_path / 'bin'
    fake.mkdir()
    record = tmp_path / 'srun.json'
    (fake / 'srun').write_text(
        '#!/usr/bin/env python3\nimport json, os, sys\n'
        f'json.dump(dict(argv=sys.argv[1:], env=dict(os.environ)), open({str(record)!r}, "w"))\n')
    (fake / 'srun').chmod(0o755)
    env = dict(
        os.environ,
        PATH=f'{fake}:{os.environ["PATH"]}',
        GPUS='16',
        GPUS_PER_NODE='8',
        CPUS_PER_TASK='6',
        SRUN_ARGS='--quotatype=auto --time=10')
    subprocess.run(['bash', 'tools/slurm_train.sh', 'gpu_part', 'scrl_job', 'cfg.py', 'wd', '--amp'],
                   cwd=ROOT,
                   env=env,
                   check=True,
                   capture_output=True)
    argv = json.loads(record.read_text())['argv']
    assert argv[:2] == ['-p', 'gpu_part']
    for expected in ('--job-name=scrl_job', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8', '--cpus-per-task=6',
                     '--kill-on-bad-exit=1', '--quotatype=auto', '--time=10', 'cfg.py', '--work-dir=wd',
                     '--launcher=slurm', '--amp'):
        assert expected in argv, (expected, argv)
    assert argv[argv.index('cfg.py') - 1].endswith('tools/train.py')
    env_seen = json.loads(record.read_text())['env']
    assert str(ROOT) in env_seen['PYTHONPATH'].split(':')


def test_dist_train_passes_multinode_variables(tmp_path):
    """dist_train.sh forwards NNODES/NODE_RANK/MASTER_ADDR/PORT to torch.distributed.run."""
    fake_py = tmp_path / 'python'
    record = tmp_path / 'args.json'
    fake_py.write_text('#!/usr/bin/env python3\nimport json, sys\n'
                       f'json.dump(sys.argv[1:], open({str(record)!r}, "w"))\n')
    fake_py.chmod(0o755)
    env = dict(os.environ, PYTHON=str(fake_py), NNODES='2', NODE_RANK='1', PORT='29999', MASTER_ADDR='10.1.2.3')
    subprocess.run(['bash', 'tools/dist_train.sh', 'cfg.py', '4', '--amp'], cwd=ROOT, env=env, check=True)
    argv = json.loads(record.read_text())
    assert argv[:2] == ['-m', 'torch.distributed.run']
    for expected in ('--nnodes=2', '--node_rank=1', '--master_addr=10.1.2.3', '--nproc_per_node=4',
                     '--master_port=29999', 'cfg.py', '--launcher', 'pytorch', '--amp'):
        assert expected in argv
