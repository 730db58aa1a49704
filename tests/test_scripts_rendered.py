"""Every script the program renders, as the remote commands carry it: pinned, and checked by
shellcheck.

Pinned: a step's script is one of its inputs, so a script that changes by one byte re-runs that
step on every deployed stack at its next `pulumi up`. The sha256 of each command's `create` and
`delete` for the tutorial and dev stacks is pinned here; a refactoring of the builders must
leave them all unchanged, and a change that is meant must update its pin and say, in its commit,
which steps re-run and why.

The scripts are what an apply sends (the program run under the mock runtime, tools.plan, with
placeholder secrets: no script holds a secret), once per answer of the virt type detection
(a hypervisor's restart step is built from it).

shellcheck: every distinct script of every stack in stacks/, and of those stacks with other
options (VARIANTS: each release and distribution, the uwsgi `workers` setting, a non-root SSH
user, a Liberty hypervisor), is checked as bash (`shellcheck -s bash`, every default check): a
step for a non-root user runs under `sudo -n /bin/bash -c` (scripts.as_user: the script inside
is what is checked), one for root in root's login shell, bash on the Debian and Ubuntu nodes
the releases target; the scripts use bash (`masked` reads PIPESTATUS) and the sandbox tests run
them with bash. A finding is a failure unless ALLOWED names its code and the line it is on,
with the reason it is deliberate.
"""
from __future__ import annotations

import functools
import hashlib
import json
import shlex
import shutil
import subprocess
import tempfile
from typing import Any, Mapping, Optional

import pytest

from components.scripts import as_user
from tests.conftest import service_unavailable
from tests.stack_files import stack_config  # with `cli_rules`
from tools.plan import PROJECT_ROOT, run_program, unwrap

COMMAND = "command:remote:Command"
STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (PROJECT_ROOT / "stacks").glob("Pulumi.*.yaml"))
VIRT_TYPES = ("kvm", "qemu")


@functools.lru_cache(maxsize=None)
def _commands(stack: str, virt: str, overrides: str) -> Mapping[str, str]:
    """`<resource> <create|delete>` -> the script, for one run of the program (an apply, the
    detection step printing `virt`, the config `overrides` given as JSON)."""
    config, keys = stack_config(stack, secrets=None, overrides=json.loads(overrides), placeholder_secrets=True,
                                cli_rules=True)
    rec = run_program(stack, config, keys, preview=False, apply_stdout={"detect-virt": virt})
    found = {}
    for r in rec.of_type(COMMAND):
        raw = unwrap(r.raw_inputs)
        for field in ("create", "delete"):
            if raw.get(field) is not None:
                assert isinstance(raw[field], str), (stack, r.name, field)
                found[f"{r.name} {field}"] = raw[field]
    return found


def rendered_scripts(stack: str, overrides: Optional[Mapping[str, Any]] = None) -> dict[str, str]:
    """Every command's script for `stack` (with config `overrides`); one whose text depends on
    the detected virt type is listed once per type, as `<resource> <field> (detect-virt: <type>)`."""
    as_json = json.dumps(overrides or {}, sort_keys=True)
    runs = {virt: _commands(stack, virt, as_json) for virt in VIRT_TYPES}
    first = runs[VIRT_TYPES[0]]
    assert all(set(run) == set(first) for run in runs.values())
    scripts = {}
    for key in first:
        texts = {virt: run[key] for virt, run in runs.items()}
        if len(set(texts.values())) == 1:
            scripts[key] = first[key]
        else:
            scripts.update({f"{key} (detect-virt: {virt})": text for virt, text in texts.items()})
    return scripts


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Generated from the scripts as they were rendered before the shell builders' refactoring,
# for every stack in stacks/; see the module's docstring before changing one.
PINNED = {
    "tutorial": {
        "hypervisor-roster-update create": "414b6f6002961a724c3dcae5ca7625fb0efb780da1865595de5337a51e8ce59f",
        "controller-db-sync create": "8074dd6d18b6c26aa0a6b64bb8853150eb619d1968aba95d9da3bb7c4f5dd9d6",
        "controller-nova-conf create": "109afa7fa4ee6bd69a9099b9fb015adeb95bd1596dde029aae6d49126b2ac1b4",
        "controller-openrc create": "2b627e9240d8bbdc87940763b3fbce58b7043ffed2b042113982ec612ddb2d21",
        "controller-packages create": "6a203a88fd7364f28b38eb81219467e66aba3d5e79a2bd6b36356885fe8a9e5a",
        "controller-preflight create": "e352e6184a12d786c83945e472be42e0bcf3604be0e0cf2b7ec04c3c06c43d0c",
        "controller-restart create": "bf4f67b0750fb717dd7d6ed6529bee3837e78b97ab8cc40a468c53a3e27ad325",
        "controller-verify create": "b6b10592c9a816be3b039be43501b9ebab802411aee376cce04a8e48fead0939",
        "dashboard-packages create": "1584249e5e8ab4080c01b176c66551c39e5a01eeaf332d7839afc5ab2ce242ab",
        "dashboard-settings create": "1c9f4f107a42b372234a8f1391b9890ecbe5995a6e22e5f2af6053bd40968e17",
        "dashboard-verify create": "7ec6b31ecd27f75533e6d48644fe80586588a61cbea379a2bb4486bbf09919b4",
    },
    "dev": {
        "hypervisor-roster-update create": "1db75d3764d36049196be82c59c4608fa84317b9d93e3f3d0c497478f38a69ec",
        "cells-discover-hosts create": "7b371aaeb9f14594f58ac3c362a9d900fcbdf7b050fbda2ad13efb0c6a05d492",
        "compute1-compute-conf create": "4a8a094d56e7ea823114fcf8c2db9fa8f3ff1aeebcc4fcfd88c286630b9fdd68",
        "compute1-detect-virt create": "b595e23fd5d1e7a1254c53a777b4b3296492a13098c3d968d08eaa94bdca4fe8",
        "compute1-nova-conf create": "109afa7fa4ee6bd69a9099b9fb015adeb95bd1596dde029aae6d49126b2ac1b4",
        "compute1-packages create": "58c5446212536f538d91ede4f2d8a5289348147507dea89b74daef101c06898d",
        "compute1-preflight create": "832e958e357f9cb4f1a2943697e0754ef36bb4bc58f408e3480939f13e89b8d1",
        "compute1-restart create (detect-virt: kvm)": "63d8706de2ca6ee92272d2d705d7b8ef8b7ea08b589865c0893d0e3c8d9ff77b",
        "compute1-restart create (detect-virt: qemu)": "b5b717aad431ada5e45f7778caca58fd2121d8d8f9369dafabbdcf50cddc9b45",
        "compute1-service-record create": "d20a7ee915bd84fcd98fa0059e8abbf12c72bea0b172ec4da1b237568b5b87f2",
        "compute1-verify create": "b14510675350b1f5c3c85aa082b21457002a28e14f1fd4607b30a97926e062d7",
        "compute2-compute-conf create": "4a8a094d56e7ea823114fcf8c2db9fa8f3ff1aeebcc4fcfd88c286630b9fdd68",
        "compute2-nova-conf create": "109afa7fa4ee6bd69a9099b9fb015adeb95bd1596dde029aae6d49126b2ac1b4",
        "compute2-packages create": "58c5446212536f538d91ede4f2d8a5289348147507dea89b74daef101c06898d",
        "compute2-preflight create": "832e958e357f9cb4f1a2943697e0754ef36bb4bc58f408e3480939f13e89b8d1",
        "compute2-restart create": "b5b717aad431ada5e45f7778caca58fd2121d8d8f9369dafabbdcf50cddc9b45",
        "compute2-service-record create": "08444b3a13b0290e90144ebc5dd65b94206e425a66c26527d0172f83f33b27e3",
        "compute2-verify create": "9678a6437fc5e4bdbca7140dca5df319c3f150675a1adb5003bca2534ab53ea9",
        "controller-db-sync create": "c2e70cc9671c11c0a9b701e68184d80e8e093c37c55ca4cbbbf973ad89b0f16f",
        "controller-nova-conf create": "109afa7fa4ee6bd69a9099b9fb015adeb95bd1596dde029aae6d49126b2ac1b4",
        "controller-openrc create": "2b627e9240d8bbdc87940763b3fbce58b7043ffed2b042113982ec612ddb2d21",
        "controller-packages create": "73d6be27192e5b0957ca08830e6ae3baca4c0e2c92c5010116efdfd4528e8ca9",
        "controller-preflight create": "429b0ea77d011902a80fe230c197b6fb1f4885c6df1017b57aa0a32b02eac2a5",
        "controller-restart create": "3ee66f699d94d2bc0c2f512fbfd3afcf5ca77184af750c8461c1da6d9e9313d3",
        "controller-verify create": "3e02991a03f64f9ac00e93c975230f1a772d1616905e4fa8d2357feab53d2c43",
        "dashboard-packages create": "1584249e5e8ab4080c01b176c66551c39e5a01eeaf332d7839afc5ab2ce242ab",
        "dashboard-reload create": "aba852dd6447643e3d15e98a9b40c4f030154f0b0dbd519519d99cc83598166e",
        "dashboard-settings create": "6b542b8de58fdd1b229bd31351e5d0af5f0dbb823628b8e320ea14427066872c",
        "dashboard-verify create": "aeb97e88f0fdd913fd9659a9cd2159ce143c3299fc086059dd9968e886d34ab7",
        "placement-conf create": "ba03a08f26c1c20af219ead2c3ce15d6848b103b195ff0580b691d652b5a4f3a",
        "placement-db-sync create": "119bb45a5f5c6bb755b6c2edbd5438df004912727d709c91f26305294641bd93",
        "placement-packages create": "696ae0e7ed681f19dc573cb3faf1f01c627d5bb26223746db37e22da971d516a",
        "placement-restart create": "91be072010ed9037209a48bd17ecfb047aec0e85d5a44da6e2ae11187afa035a",
        "placement-verify create": "d8924d87a85c631edd26d4bb636ce0623c3b5b82cb3e44fce4a90684c0f86aa5",
    },
    "e2e": {
        "hypervisor-roster-update create": "0b5ce08a3e86b82f25e72fa39a978054651bbd7e589e86e2de6f55cc2b5f975a",
        "cells-discover-hosts create": "7b371aaeb9f14594f58ac3c362a9d900fcbdf7b050fbda2ad13efb0c6a05d492",
        "controller-api-workers create": "3951cb9b25dc71eb8752dc58fa0578895279135353bcdec73707f6dc5b54ce1d",
        "controller-db-sync create": "ad0e60ef368a84a928a8b7ac359412bb8da04d6ae5064130e85bc45c67a61b00",
        "controller-nova-conf create": "109afa7fa4ee6bd69a9099b9fb015adeb95bd1596dde029aae6d49126b2ac1b4",
        "controller-openrc create": "2b627e9240d8bbdc87940763b3fbce58b7043ffed2b042113982ec612ddb2d21",
        "controller-packages create": "fe7e42ad4a2bee8b55ecbdebb2fbf8e04735e5c3c29143a6bc0f4abb7e1f9dba",
        "controller-preflight create": "b060179ffffcf0f975c2cbef98386c889c3c1ea42b0adbea29ce29c9615b65ea",
        "controller-restart create": "dfb26241ba319ee674fa785b0be90204ad1c78f4cce9032b6ae3f3e8687724c8",
        "controller-verify create": "3e02991a03f64f9ac00e93c975230f1a772d1616905e4fa8d2357feab53d2c43",
        "dashboard-packages create": "ca6fbf0710b7fe768dde292a4dcb9b87be2d34925d66eff310f0cb5ddb7d48c7",
        "dashboard-reload create": "3b067a0289f8158d2baa450d2b211d188c8ce73d9da5dd1f6daa9f52074c93f5",
        "dashboard-settings create": "1f5415d4c9c050f0d7ad84a4d74861894df79a080cfbbeeceae5e9019d58770c",
        "dashboard-verify create": "0b501b646d085f8f5482ef967373107620dc28e97325f99a1b069e4eccb3716d",
        "dashboard-wsgi-conf create": "1461e38308b2eefab667caedfa4f34c8c39a49c77aaca43d0da61858bb370be0",
        "e2e-compute1-compute-conf create": "4a8a094d56e7ea823114fcf8c2db9fa8f3ff1aeebcc4fcfd88c286630b9fdd68",
        "e2e-compute1-detect-virt create": "b595e23fd5d1e7a1254c53a777b4b3296492a13098c3d968d08eaa94bdca4fe8",
        "e2e-compute1-nova-conf create": "109afa7fa4ee6bd69a9099b9fb015adeb95bd1596dde029aae6d49126b2ac1b4",
        "e2e-compute1-packages create": "8db4717a05dfb387977eb7556140d12b4b9bc897d8bea62ab3a3d0e476096e89",
        "e2e-compute1-preflight create": "20fa3401fbe5f3e6a5ec9d1e15f6db6c6475c95ac288aac584ffe5b56684436f",
        "e2e-compute1-restart create (detect-virt: kvm)": "63d8706de2ca6ee92272d2d705d7b8ef8b7ea08b589865c0893d0e3c8d9ff77b",
        "e2e-compute1-restart create (detect-virt: qemu)": "b5b717aad431ada5e45f7778caca58fd2121d8d8f9369dafabbdcf50cddc9b45",
        "e2e-compute1-service-record create": "9962cb54718bfb6dd678c30476c451ce1d39a13cbde51598563a44e70036fc68",
        "e2e-compute1-verify create": "c84def7e552caee0883f5bcd09bb782068ef2a2e2dcbd8863008756aad282bf5",
        # the second hypervisor (migration): new steps, the first one's scripts unchanged
        "e2e-compute2-compute-conf create": "4a8a094d56e7ea823114fcf8c2db9fa8f3ff1aeebcc4fcfd88c286630b9fdd68",
        "e2e-compute2-detect-virt create": "b595e23fd5d1e7a1254c53a777b4b3296492a13098c3d968d08eaa94bdca4fe8",
        "e2e-compute2-nova-conf create": "109afa7fa4ee6bd69a9099b9fb015adeb95bd1596dde029aae6d49126b2ac1b4",
        "e2e-compute2-packages create": "8db4717a05dfb387977eb7556140d12b4b9bc897d8bea62ab3a3d0e476096e89",
        "e2e-compute2-preflight create": "20fa3401fbe5f3e6a5ec9d1e15f6db6c6475c95ac288aac584ffe5b56684436f",
        "e2e-compute2-restart create (detect-virt: kvm)": "63d8706de2ca6ee92272d2d705d7b8ef8b7ea08b589865c0893d0e3c8d9ff77b",
        "e2e-compute2-restart create (detect-virt: qemu)": "b5b717aad431ada5e45f7778caca58fd2121d8d8f9369dafabbdcf50cddc9b45",
        "e2e-compute2-service-record create": "b6ef238da440374523737d01e1c394b7983da4c2da1cf99918f262849527b777",
        "e2e-compute2-verify create": "c203daa352dfb08e2adfaa4e3725c31608a1d09733e71579c6e9a2b0db11677d",
        "placement-conf create": "ba03a08f26c1c20af219ead2c3ce15d6848b103b195ff0580b691d652b5a4f3a",
        "placement-db-sync create": "119bb45a5f5c6bb755b6c2edbd5438df004912727d709c91f26305294641bd93",
        "placement-packages create": "d3c9f27d479ae05b81105ac325847e00f2d05b014213dc7bc84c1e462e879659",
        "placement-restart create": "7566f1e53946d623f7dcec17367ebc46739f7b524dfe8a79036028cdb13e16d5",
        "placement-verify create": "5235e7bc96447d27addfdb93ca7e1c15ca0d172f33cb4da57c6d41e81a7d8ace",
        "placement-workers create": "ddaf3096d82301a5f460b8a678a65ed3b0bf07a24e8df7aaa0a887ced3015d16",
    },
    "prod": {
        "hypervisor-roster-update create": "1c46ccfa8515cfd85e11928039677bdd1648eb6b8607a3f83ff7b3b38997f601",
        "cells-discover-hosts create": "73619f48f22bf5ea74971306a7206483fade0a2c05e6665c5a9c933fcd44f9bb",
        "cmp-a1-compute-conf create": "4fae59702b1947ae3d171a34fd6a9ac7b3a5d1dd2c80edcb85518be8cdb782f2",
        "cmp-a1-nova-conf create": "06056ef61c940c54926089f4f3bfbbf2b93c49908184461fcad71b675e70f88c",
        "cmp-a1-packages create": "f2ae003a55768d12bb93d51912bff6837d6000bf0aaa602b11f0055752dec195",
        "cmp-a1-preflight create": "a2a40ff5a5265ebb09d843fdfbc66e0de02b49bb556d733fe9d741f786526e99",
        "cmp-a1-restart create": "f6643d1e12e835cbb1f4005be436cf9bb23c3eb33ddec5b820f5ade8bcf0fc4f",
        "cmp-a1-service-record create": "35c154a463fb6902d788c933895b505cdf68c62dc7f708269d79496670e9baf7",
        "cmp-a1-verify create": "0edfbc837657c514860b2e970fa853932a6ab49d7807646554de213109ad821a",
        "cmp-a2-compute-conf create": "4fae59702b1947ae3d171a34fd6a9ac7b3a5d1dd2c80edcb85518be8cdb782f2",
        "cmp-a2-nova-conf create": "06056ef61c940c54926089f4f3bfbbf2b93c49908184461fcad71b675e70f88c",
        "cmp-a2-packages create": "f2ae003a55768d12bb93d51912bff6837d6000bf0aaa602b11f0055752dec195",
        "cmp-a2-preflight create": "a2a40ff5a5265ebb09d843fdfbc66e0de02b49bb556d733fe9d741f786526e99",
        "cmp-a2-restart create": "f6643d1e12e835cbb1f4005be436cf9bb23c3eb33ddec5b820f5ade8bcf0fc4f",
        "cmp-a2-service-record create": "bd8243cad7024ec8ed6fef22b313737a1a7b8baf916851bf0df37c109818b22e",
        "cmp-a2-verify create": "c94986f51d9820374010e3f097aea118fea222704669d5788c0372ae49454bd8",
        "controller-db-sync create": "e283dda8d6cc37dd185d30cb47783897ced923d2d6d4595cf3fc0ba4c0fd2387",
        "controller-nova-conf create": "06056ef61c940c54926089f4f3bfbbf2b93c49908184461fcad71b675e70f88c",
        "controller-openrc create": "4dcaac8834e1ffc9d02244453fdc49182a8e25917cb3ff8204ecf6269ec9a2f1",
        "controller-packages create": "bdc5c90830b24b40aaf05de179234f439c041ea171f0ed87e441fc51914e5326",
        "controller-preflight create": "2f0f901e8676afacfd181d52285d7efcd38d20f7c95b702f901c865c76ade3ab",
        "controller-restart create": "0464d4c8dc7bcaa8e6a345547e4cb1d9e0fc2c030e00c2dabee7fb314cab97b7",
        "controller-verify create": "2e1ba770302a23db37099d9d3681b398dae75d7616bbe513b4605a0664893492",
        "placement-conf create": "7f4fec4bf63183417ea885bd4eda9f02d8103c20cc118cb307068398dd526072",
        "placement-db-sync create": "cf99377771cd8fbe69a7bb3b2e90001fd2592687171a811c3b55a3b326aca8b3",
        "placement-packages create": "f3b8300c25a3fe422d56325fd1b7c45823b5dff54a9ce59a4b0280aa29f9422f",
        "placement-restart create": "9963900657f3cef26394099f8821ca2f65e2d7356892345bdd408f0cb84a18b0",
        "placement-verify create": "9f18d03b111336c28133d9f5e029effb24af9f4e918854f1d4e4a54193ab56c5",
    },
    "zed": {
        "hypervisor-roster-update create": "e75e0b4dcc6234debdac95f08e2efe0cdd9d0c8773520729fbd398fe6321481d",
        "cells-discover-hosts create": "7b371aaeb9f14594f58ac3c362a9d900fcbdf7b050fbda2ad13efb0c6a05d492",
        "controller-api-workers create": "3951cb9b25dc71eb8752dc58fa0578895279135353bcdec73707f6dc5b54ce1d",
        "controller-db-sync create": "c2e70cc9671c11c0a9b701e68184d80e8e093c37c55ca4cbbbf973ad89b0f16f",
        "controller-nova-conf create": "109afa7fa4ee6bd69a9099b9fb015adeb95bd1596dde029aae6d49126b2ac1b4",
        "controller-openrc create": "2b627e9240d8bbdc87940763b3fbce58b7043ffed2b042113982ec612ddb2d21",
        "controller-packages create": "229630670e81534a7495c28a2a866a2c0a09bc5de3ca1ad94349e15c74eea707",
        "controller-preflight create": "eee8491c14b0747fabf1e1b5769f2eb9fbfd251acaf2ec0a58728816d0bf33be",
        "controller-restart create": "dfb26241ba319ee674fa785b0be90204ad1c78f4cce9032b6ae3f3e8687724c8",
        "controller-verify create": "2b2a5d1cf10116cf197b0f25bf5dd861e47431ff3982fa9a73a7859933a14294",
        "dashboard-packages create": "ca6fbf0710b7fe768dde292a4dcb9b87be2d34925d66eff310f0cb5ddb7d48c7",
        "dashboard-reload create": "3b067a0289f8158d2baa450d2b211d188c8ce73d9da5dd1f6daa9f52074c93f5",
        "dashboard-settings create": "1f5415d4c9c050f0d7ad84a4d74861894df79a080cfbbeeceae5e9019d58770c",
        "dashboard-verify create": "89ab31645c12f9779645c7fe60e0907af6cdeb4f8aa3aae74827ab6cb98071f3",
        "dashboard-wsgi-conf create": "1461e38308b2eefab667caedfa4f34c8c39a49c77aaca43d0da61858bb370be0",
        "placement-conf create": "ba03a08f26c1c20af219ead2c3ce15d6848b103b195ff0580b691d652b5a4f3a",
        "placement-db-sync create": "119bb45a5f5c6bb755b6c2edbd5438df004912727d709c91f26305294641bd93",
        "placement-packages create": "d3c9f27d479ae05b81105ac325847e00f2d05b014213dc7bc84c1e462e879659",
        "placement-restart create": "7566f1e53946d623f7dcec17367ebc46739f7b524dfe8a79036028cdb13e16d5",
        "placement-verify create": "e3eba1bcba4b4c10a07810223ee19c40abe7b7aebddd47969bc4e4bf05c2b9b4",
        "placement-workers create": "ddaf3096d82301a5f460b8a678a65ed3b0bf07a24e8df7aaa0a887ced3015d16",
        "zed-cmp1-compute-conf create": "4a8a094d56e7ea823114fcf8c2db9fa8f3ff1aeebcc4fcfd88c286630b9fdd68",
        "zed-cmp1-detect-virt create": "b595e23fd5d1e7a1254c53a777b4b3296492a13098c3d968d08eaa94bdca4fe8",
        "zed-cmp1-nova-conf create": "109afa7fa4ee6bd69a9099b9fb015adeb95bd1596dde029aae6d49126b2ac1b4",
        "zed-cmp1-packages create": "f637b9a8ec103a032171ddc23bb6853cfc9e8bf2ccc1cd734cc38896288d2a4d",
        "zed-cmp1-preflight create": "4ada05903a3485321db3f79b60e9f7f7ab4c026beefaa46704a32d8743fc7a2e",
        "zed-cmp1-restart create (detect-virt: kvm)": "63d8706de2ca6ee92272d2d705d7b8ef8b7ea08b589865c0893d0e3c8d9ff77b",
        "zed-cmp1-restart create (detect-virt: qemu)": "b5b717aad431ada5e45f7778caca58fd2121d8d8f9369dafabbdcf50cddc9b45",
        "zed-cmp1-service-record create": "e09eeff66a3ec98e7b81aedb208cf72c6cf5400a5d86bec49059026193530a7a",
        "zed-cmp1-verify create": "e8b7439a90ba01b55d06e15c2c7092d04057271c3ff64bd5c13902fefe8078a5",
    },
}


@pytest.mark.parametrize("stack", sorted(PINNED))
def test_rendered_scripts_are_pinned(stack):
    digests = {key: sha256(text) for key, text in rendered_scripts(stack).items()}
    changed = sorted(k for k in digests.keys() & PINNED[stack].keys() if digests[k] != PINNED[stack][k])
    assert (changed, sorted(digests.keys() - PINNED[stack].keys()), sorted(PINNED[stack].keys() - digests.keys())) \
        == ([], [], []), "changed, new, gone: each of these steps re-runs on deployed stacks"


def test_every_stack_is_pinned():
    assert sorted(PINNED) == STACKS


# --------------------------------------------------------------------------------------------
# shellcheck
# --------------------------------------------------------------------------------------------

_HYPERVISOR = {"name": "cmp9", "host": "cmp9.example.org", "myIp": "10.0.0.9"}
_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIItVb8l4yjEdDFfBd4rTut+EPVeX9juj4pR6uJS5lzzj"
_MIGRATING = [{**_HYPERVISOR, "name": f"cmp{i}", "host": f"cmp{i}.example.org", "myIp": f"10.0.0.{i}", "hostKey": _HOST_KEY}
              for i in (8, 9)]
# Stacks with options their files do not set, for the scripts those options render.
VARIANTS: tuple[tuple[str, Mapping[str, Any]], ...] = (
    # Liberty with a hypervisor (nova-manage's listing, the nova client), reached through sudo
    ("tutorial", {"hypervisors": [{**_HYPERVISOR, "user": "deploy"}]}),
    ("tutorial", {"controller": {"name": "compute-node", "host": "compute-node.example.org", "myIp": "10.0.0.6",
                                 "user": "deploy"}}),
    # each release on each distribution it is packaged for, uwsgi workers set or not
    ("dev", {"distro": "debian-13", "workers": 4}),
    ("dev", {"release": "zed", "distro": None, "workers": 1}),
    ("e2e", {"distro": "ubuntu-24.04", "workers": None}),
    # production, its dashboard on (a non-root user on every node)
    ("prod", {"dashboard": {"enabled": True}}),
    # migration between hypervisors (nova's key: the offline plan's placeholder key), each scheme
    ("dev", {"migration": {"enabled": True}, "hypervisors": _MIGRATING}),
    ("prod", {"migration": {"enabled": True, "scheme": "tls", "caFile": "/etc/pki/nova/ca.pem",
                            "certFile": "/etc/pki/nova/cert.pem", "keyFile": "/etc/pki/nova/key.pem"}}),
)

# Deliberate patterns shellcheck notes: (code, text of the line it flags, why it stays).
ALLOWED: tuple[tuple[str, str, str], ...] = (
    ("SC1091", ". /root/admin-openrc",
     "the admin openrc the controller's openrc step writes on the node: nothing to follow here"),
    ("SC2034", "for attempt in $(seq 1 ", "a bounded wait: the counter only counts the attempts"),
    ("SC2034", "for i in $(seq 1 120); do", "the dpkg lock wait: the counter only counts the attempts"),
    ("SC2034", "for round in $(seq 1 ", "online data migrations' bounded rounds: the counter only counts"),
    ("SC2043", "for serv in ", "restart_services loops over the release's list, which may hold one service"),
    ("SC2015", ") 2>/dev/null || { echo \"virt_type kvm, but ",
     "A && B || C on purpose: the error when either test (a character device, that opens) fails"),
    ("SC2016", "timeout 5 bash -c 'exec 3<>/dev/tcp/\"$0\"/\"$1\"' ",
     "the inner bash expands its own positional arguments (host and port, passed quoted)"),
    ("SC2016", "python3 -c ", "a Python program"),
    ("SC2016", "su -s /bin/sh -c 'nova-manage cell_v2 update_cell --cell_uuid \"$CELL_UUID\" ",
     "the nova user's shell expands CELL_UUID, exported after it was checked to be a uuid"),
    ("SC2016", "su -s /bin/sh -c 'ssh -o BatchMode=yes -o ConnectTimeout=10 \"$NOVA_MIGRATION_PEER\" true' nova",
     "the nova user's shell expands the peer's address, handed over in su's environment, never as command text"),
)


def shellcheck_corpus() -> dict[str, str]:
    """Every distinct script (the one inside sudo's `bash -c` for a non-root user) -> where it
    is first rendered."""
    corpus: dict[str, str] = {}
    runs = [(stack, None) for stack in STACKS] + list(VARIANTS)
    for stack, overrides in runs:
        where = stack + (f" {json.dumps(overrides, sort_keys=True)}" if overrides else "")
        for key, text in rendered_scripts(stack, overrides).items():
            if text.startswith("sudo "):
                inner = shlex.split(text)[-1]  # sudo -n /bin/bash -c '<script>'
                assert as_user(inner, "deploy") == text, (where, key)
                text = inner
            corpus.setdefault(text, f"{where}: {key}")
    return corpus


def test_the_variants_render_scripts_the_stack_files_do_not():
    own = set()
    for stack in STACKS:
        own |= set(rendered_scripts(stack).values())
    for stack, overrides in VARIANTS:
        if not set(rendered_scripts(stack, overrides).values()) - own:
            pytest.fail(f"{stack} with {overrides} renders no script of its own: drop it from VARIANTS")


@functools.lru_cache(maxsize=None)
def shellcheck_findings() -> tuple[tuple[str, int, str, str, str], ...]:
    """(where the script is first rendered, line number, code, message, text of the line) of
    every finding of `shellcheck -s bash` on the corpus."""
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        service_unavailable("shellcheck is not installed (Debian: apt-get install shellcheck)")
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for n, (text, where) in enumerate(sorted(shellcheck_corpus().items(), key=lambda item: item[1])):
            path = f"{tmp}/{n:03}.sh"
            with open(path, "w") as f:
                f.write(text)
            files[path] = (where, text.split("\n"))
        run = subprocess.run([shellcheck, "-s", "bash", "-f", "json1", *files], capture_output=True, text=True)
    assert run.returncode in (0, 1), run.stderr  # 1: findings
    findings = []
    for c in json.loads(run.stdout)["comments"]:
        where, lines = files[c["file"]]
        findings.append((where, c["line"], f"SC{c['code']}", c["message"], lines[c["line"] - 1]))
    return tuple(findings)


def allowed(code: str, line: str) -> list[tuple[str, str]]:
    """The ALLOWED patterns that cover a finding `code` on `line`."""
    return [(c, text) for c, text, _ in ALLOWED if code == c and text in line]


def test_every_rendered_script_passes_shellcheck():
    assert [f"{where}: line {n}: {code} {message}\n    {line}" for where, n, code, message, line in shellcheck_findings()
            if not allowed(code, line)] == []


def test_every_allowed_pattern_is_still_needed():
    """An exclusion no script needs any more goes (it could hide a new finding)."""
    used = {pattern for _, _, code, _, line in shellcheck_findings() for pattern in allowed(code, line)}
    assert [(c, text) for c, text, _ in ALLOWED if (c, text) not in used] == []
