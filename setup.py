"""bocb_mm: the BOCB study on OpenMMLab (mmengine, mmpretrain, mmdet, mmpose)."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def parse_requirements(name: str) -> list[str]:
    """Requirement lines of ``requirements/<name>.txt`` (comments and blanks dropped)."""
    lines = (HERE / 'requirements' / f'{name}.txt').read_text().splitlines()
    return [line.split('#')[0].strip() for line in lines if line.split('#')[0].strip()]


def version() -> str:
    namespace: dict = {}
    exec((HERE / 'bocb_mm' / 'version.py').read_text(), namespace)
    return namespace['__version__']


setup(
    name='bocb_mm',
    version=version(),
    description='Backbone-Optimizer Coupling Bias (BOCB) study on today\'s OpenMMLab',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    include_package_data=True,
    package_data={'bocb_mm': ['data/*.csv', 'data/paper/*.csv', 'data/paper/*.txt']},
    python_requires='>=3.9',
    install_requires=parse_requirements('runtime'),
    extras_require={
        'all': parse_requirements('mminstall') + parse_requirements('optional'),
        'mim': parse_requirements('mminstall'),
        'tests': parse_requirements('tests'),
        'optional': parse_requirements('optional'),
    },
    license='Apache License 2.0',
    zip_safe=False,
)
