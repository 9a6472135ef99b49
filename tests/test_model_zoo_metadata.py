"""The model-zoo metadata ``mim search`` reads: every config folder has a
``metafile.yml`` listing each of its configs, ``model-index.yml`` imports every
metafile, and each figure and checkpoint equals what the folder's README and
the zoo it comes from (mmdet's, mmseg's installed metafiles) say."""
import glob
import os
import os.path as osp
import re

import pytest
import yaml
from mmengine.config import Config
from mmengine.utils import get_installed_path

from mmpanfpn.testing.model_zoo import check_metafile_entry

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
CONFIGS = osp.join(ROOT, 'configs')
# configs for the generated synthetic set (demo and tests): no zoo entry
NOT_IN_ZOO = 'tiny'
# where the "Converted From" checkpoints and their figures come from: the
# installed package's copy of that zoo's metafile for the same config name
UPSTREAM = {
    'panoptic_fpn': ('mmdet', 'configs/panoptic_fpn/metafile.yml'),
    'semantic_fpn': ('mmseg', 'configs/sem_fpn/metafile.yaml'),
}
TEMPLATE = 'configs/panoptic_fpn/metafile.yml'
# folders whose metafile entries tests/test_configs.py checks against the
# configs it parses anyway (parsing mmdet's bases is slow)
PARSED_ELSEWHERE = ('panoptic_fpn', 'panoptic_fcn')


def model_folders():
    """Folders of configs/ holding model configs (``_base_`` holds parts)."""
    return sorted(
        name for name in os.listdir(CONFIGS)
        if name != '_base_' and glob.glob(osp.join(CONFIGS, name, '*.py')))


def zoo_configs(folder):
    paths = sorted(glob.glob(osp.join(CONFIGS, folder, '*.py')))
    return [
        f'configs/{folder}/{osp.basename(p)}' for p in paths
        if NOT_IN_ZOO not in osp.basename(p)
    ]


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def metafile_models(folder):
    return load_yaml(osp.join(CONFIGS, folder, 'metafile.yml'))['Models']


def results_of(model):
    """``Results`` as a list (mmdet writes a list, mmseg a single dict)."""
    results = model.get('Results', [])
    return [results] if isinstance(results, dict) else results


def test_the_folders_are_found():
    assert {'panoptic_fpn', 'semantic_fpn'} <= set(model_folders())


@pytest.mark.parametrize('folder', model_folders())
def test_every_config_folder_has_a_metafile_listing_its_configs(folder):
    """A new model folder fails here until its metafile lists its configs."""
    expected = zoo_configs(folder)
    path = osp.join(CONFIGS, folder, 'metafile.yml')
    if not osp.isfile(path):
        pytest.fail(
            f'configs/{folder}/metafile.yml is missing: add one like '
            f'{TEMPLATE} (a Collection, then one entry in "Models" '
            f'per config: {", ".join(expected)}) and its line in '
            'model-index.yml',
            pytrace=False)
    listed = [model['Config'] for model in metafile_models(folder)]
    missing = sorted(set(expected) - set(listed))
    unknown = sorted(set(listed) - set(expected))
    assert not missing, f'{path}: no entry for {missing}'
    assert not unknown, (f'configs/{folder}/metafile.yml: {unknown} are not '
                         f'configs of configs/{folder}/')
    assert len(listed) == len(set(listed)), f'{path}: a config listed twice'


def test_model_index_imports_every_metafile():
    index = load_yaml(osp.join(ROOT, 'model-index.yml'))
    metafiles = sorted(
        osp.relpath(p, ROOT)
        for p in glob.glob(osp.join(CONFIGS, '*', 'metafile.yml')))
    assert sorted(index['Import']) == metafiles


@pytest.mark.parametrize('folder', model_folders())
def test_metafile_entries_are_complete(folder):
    meta = load_yaml(osp.join(CONFIGS, folder, 'metafile.yml'))
    collections = {c['Name'] for c in meta['Collections']}
    for collection in meta['Collections']:
        if folder in UPSTREAM or 'README' in collection:
            assert osp.isfile(osp.join(ROOT, collection['README']))
        assert collection['Paper']['URL'].startswith('https://arxiv.org/')
    for model in meta['Models']:
        where = f'configs/{folder}/metafile.yml: {model["Name"]}'
        assert model['In Collection'] in collections, where
        # the name is the config's file name, as mmseg's metafiles do
        assert model['Name'] == osp.splitext(osp.basename(
            model['Config']))[0], where
        for result in results_of(model):
            assert result['Task'] and result['Dataset'], where
            assert all(
                isinstance(v, (int, float))
                for v in result['Metrics'].values()), where
        # a checkpoint exactly where there are figures: both come from the
        # zoo the checkpoint was converted from
        has_results = bool(results_of(model))
        assert ('Weights' in model) == has_results, where
        assert ('Converted From' in model) == has_results, where
        if has_results:
            assert model['Converted From']['Weights'] == model['Weights']


@pytest.mark.parametrize(
    'folder', [f for f in model_folders() if f not in PARSED_ELSEWHERE])
def test_entries_describe_the_configs(folder):
    """Schedule, backbone and optimizer as ``mim search`` shows them are the
    configs'."""
    for model in metafile_models(folder):
        check_metafile_entry(model,
                             Config.fromfile(osp.join(ROOT, model['Config'])))


@pytest.mark.parametrize('folder', sorted(UPSTREAM))
def test_figures_and_weights_are_the_upstream_zoos(folder):
    """Each figure and checkpoint equals the installed mmdet/mmseg metafile's
    entry for the config of the same file name."""
    package, relative = UPSTREAM[folder]
    upstream = load_yaml(
        osp.join(get_installed_path(package), '.mim', relative))['Models']
    by_config = {osp.basename(m['Config']): m for m in upstream}
    converted = [m for m in metafile_models(folder) if 'Weights' in m]
    assert converted
    for model in converted:
        theirs = by_config[osp.basename(model['Config'])]
        assert model['Weights'] == theirs['Weights'], model['Name']
        their_metrics = {(r['Task'], r['Dataset']): r['Metrics']
                         for r in results_of(theirs)}
        for result in results_of(model):
            metrics = their_metrics[(result['Task'], result['Dataset'])]
            for key, value in result['Metrics'].items():
                assert metrics[key] == value, (model['Name'], key)


def readme_row(readme_text, config):
    rows = [
        line for line in readme_text.splitlines()
        if line.startswith('|') and f'(./{config})' in line
    ]
    assert len(rows) == 1, f'{config}: {len(rows)} rows in the README table'
    return rows[0]


@pytest.mark.parametrize('folder', sorted(UPSTREAM))
def test_readme_tables_give_the_metafile_figures(folder):
    with open(osp.join(CONFIGS, folder, 'README.md')) as f:
        readme = f.read()
    assert '## Citation' in readme and '## Abstract' in readme
    for model in metafile_models(folder):
        row = readme_row(readme, osp.basename(model['Config']))
        numbers = [
            float(x) for x in re.findall(r'\|\s*(\d+\.\d+)\s*(?=\|)', row)
        ]
        for result in results_of(model):
            for key, value in result['Metrics'].items():
                assert value in numbers, (model['Name'], key, row)
        if 'Weights' in model:
            assert f'({model["Weights"]})' in row, model['Name']
