import os
import os.path as osp
import shutil
import sys
from setuptools import find_packages, setup

ROOT = osp.dirname(osp.abspath(__file__))
# What `mim` (openmim) reads from an installed package: <package>/.mim/{model-index.yml,configs,tools}.
MIM_FILES = ('model-index.yml', 'configs', 'tools')


def read_version() -> str:
    namespace: dict = {}
    with open('mmspatial/version.py', encoding='utf-8') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def add_mim_extension() -> None:
    """Put the model index, configs and tools under ``mmspatial/.mim`` so that ``mim search/train mmspatial``
    finds them: symlinks for editable installs (edits stay live), copies when a wheel or sdist is built."""
    commands = set(sys.argv[1:])
    if commands & {'develop', 'editable_wheel'}:
        mode = 'symlink'
    elif commands & {'sdist', 'bdist_wheel', 'build', 'build_py', 'install'}:
        mode = 'copy'
    else:
        return
    mim_dir = osp.join(ROOT, 'mmspatial', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(ROOT, name), osp.join(mim_dir, name)
        if not osp.exists(src):
            continue
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_dir), dst, target_is_directory=osp.isdir(src))
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmspatial',
        version=read_version(),
        description='Spatially aware self-supervised pretraining (SCRL, SelfPatch, ScatSimCLR, SP) '
        'for the OpenMMLab stack',
        packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
        package_data={'mmspatial': ['.mim/model-index.yml', '.mim/configs/**/*', '.mim/tools/**/*']},
        python_requires='>=3.10',
        install_requires=[
            'mmengine>=0.10.7,<0.11',
            'mmpretrain>=1.2.0,<1.3',
            'torch>=2.0',
            'torchvision',
        ],
        extras_require={
            'det': ['mmdet>=3.3.0,<3.4'],
            'seg': ['mmsegmentation>=1.2.2,<1.3'],
            'scat': ['kymatio==0.3.0'],
        },
        license='Apache-2.0',
    )
