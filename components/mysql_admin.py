"""A service's MySQL/MariaDB databases and account, as a Pulumi dynamic provider over PyMySQL.

Pulumi pickles `ServiceDatabaseProvider` by reference, and the CLI's provider host (`python -m
pulumi.dynamic`) unpickles it from every stack's state by the path
`components.mysql_admin.ServiceDatabaseProvider`: renaming or moving the module or the class breaks
`pulumi refresh`/`destroy`/`up` of every existing stack (tests/test_database_component.py pins it).
What the provider builds on lives in modules it imports, whose paths no state names: the inputs it
declares, checks and compares (components/mysql_inputs.py) and the SQL it runs, with its safety
rules (components/mysql_session.py). Importing the module must have no side effects: every method
opens its own admin connection and closes it before returning. Database data is never dropped
unless `drop_databases_on_delete` is set.
"""
from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi.dynamic

from components.mysql_inputs import (
    INPUT_KEYS, SECRET_KEYS, ServiceDatabaseArgs, diff_view, host_set, input_problems, is_unknown, parse_inputs, plain,
)
from components.mysql_session import AdminSession, holds_all


class ServiceDatabaseProvider(pulumi.dynamic.ResourceProvider):
    """Databases plus one user with ALL PRIVILEGES on them from each host pattern.

    Every change is an in-place update: replacing would run create-then-delete, and delete with
    `drop_databases_on_delete` would drop the databases the replacement just adopted. A user rename
    is therefore also an update (new accounts first, then the old ones are dropped); the id keeps the
    name it was created with, as the id is only a label and no method relies on it.
    """

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        # Report bad inputs at preview, before anything runs; unknown values are checked at create.
        failures = [pulumi.dynamic.CheckFailure(key, message) for key, message in input_problems(news, skip_unknown=True)]
        return pulumi.dynamic.CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        spec = parse_inputs(props)
        with AdminSession(spec) as session:
            session.converge(spec)
        return pulumi.dynamic.CreateResult(f"{spec.user}@{spec.endpoint}", spec.props())

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = any(is_unknown(news.get(key)) for key in INPUT_KEYS) or diff_view(olds) != diff_view(news)
        return pulumi.dynamic.DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        spec = parse_inputs(news)
        old = diff_view(olds)  # old state is only needed for what to remove; it may have drifted
        old_hosts = [plain(host) for host in (plain(olds.get("hosts")) or ())]
        with AdminSession(spec, extra_secrets=[old[key] for key in SECRET_KEYS]) as session:
            session.converge(spec)
            if old["user"] != spec.user:
                for host in old_hosts:  # renamed: the old user's accounts (and their grants) go
                    session.drop_user(old["user"], host)
            else:
                kept = host_set(spec.hosts)
                for host in old_hosts:
                    if host.lower() not in kept:
                        session.drop_user(spec.user, host)
                for db in old["databases"] - set(spec.databases):
                    for host in spec.hosts:  # revoke only: the database and its data stay
                        session.revoke(spec.user, host, db)
        return pulumi.dynamic.UpdateResult(spec.props())

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        """The listed state actually on the server, so refresh shows drift and update repairs it.

        `hosts` keeps the listed hosts whose account exists; `databases` keeps the listed databases
        that exist and on which every remaining account holds ALL PRIVILEGES. With no account left
        the id is kept and `hosts` is empty: the next update recreates the accounts in place rather
        than Pulumi forgetting the resource. The password cannot be read back and is kept.
        """
        spec = parse_inputs(props, state=True)
        with AdminSession(spec) as session:
            complete = session.existing_databases(spec.databases)
            grants = {host: session.db_grants(spec.user, host) for host in spec.hosts}
            hosts = [host for host in spec.hosts if grants[host] is not None]
            complete = {db for db in complete if all(holds_all(db, grants[host]) for host in hosts)}
        outs = {**spec.props(), "hosts": hosts, "databases": [db for db in spec.databases if db in complete]}
        return pulumi.dynamic.ReadResult(id_, outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        spec = parse_inputs(props, state=True)
        with AdminSession(spec) as session:
            for host in spec.hosts:
                session.drop_user(spec.user, host)  # drops the account's grants with it
            if spec.drop_databases_on_delete:
                for db in spec.databases:
                    session.drop_database(db)


class ServiceDatabase(pulumi.dynamic.Resource, module="mysql", name="ServiceDatabase"):
    """Type token `pulumi-python:dynamic/mysql:ServiceDatabase`; inputs and outputs are the fields of
    ServiceDatabaseArgs, and the SDK sets an Output attribute for each (`.databases`, `.user`, ...)."""

    def __init__(self, name: str, args: ServiceDatabaseArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        props = args.props()  # only ServiceDatabaseArgs' fields, also for a subclass' instance
        # Secret in the stored inputs too, not only in the outputs (additional_secret_outputs).
        props.update({key: pulumi.Output.secret("" if props[key] is None else props[key]) for key in SECRET_KEYS})
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_KEYS)))
        super().__init__(ServiceDatabaseProvider(), name, props, opts)
