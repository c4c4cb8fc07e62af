from setuptools import find_packages, setup


def read_version() -> str:
    namespace: dict = {}
    with open('mmspatial/version.py', encoding='utf-8') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='mmspatial',
    version=read_version(),
    description='Spatially aware self-supervised pretraining (SCRL, SelfPatch, ScatSimCLR, SP) '
    'for the OpenMMLab stack',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    python_requires='>=3.10',
    install_requires=[
        'mmengine>=0.10.7,<0.11', 'mmpretrain>=1.2.0,<1.3', 'torch>=2.0', 'torchvision',
    ],
    extras_require={
        'det': ['mmdet>=3.3.0,<3.4'],
        'seg': ['mmsegmentation>=1.2.2,<1.3'],
        'scat': ['kymatio==0.3.0'],
    },
    license='Apache-2.0',
)
