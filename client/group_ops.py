"""Group operations: create, add, remove, roles, leave, key updates, rename, private
conversations; and the group read models (the list of groups, members)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from cove.client.context import Context
from cove.client.errors import ClientError, KeyChanged, UnknownGroup, UnknownHandle, UsageProblem
from cove.client.features.moderation import Refused, require_policed, roles
from cove.client.group_state import GroupRecord, GroupStates, handles, metadata
from cove.client.outbox import Made, Outbox
from cove.client.profile import SUITE, capabilities, group_config, validator
from cove.client.records import GroupView, MemberView
from cove.client.session import RelayError, client_error
from cove.client.sync.integrity import UnusableKeyPackage
from cove.client.sync.runner import SyncRunner
from cove.client.trust import Trust
from cove.protocol import CoveError, Group
from cove.protocol.errors import ValidationError
from cove.protocol.group_metadata import GROUP_METADATA_EXTENSION, GroupKind, GroupMetadata
from cove.protocol.identity import CoveIdentity
from cove.protocol.mls.framing import MLSMessage
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.proposals import GroupContextExtensions, Proposal
from cove.protocol.policy import PolicyRefused, initial_extensions
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.codes import ErrorCode

KIND_NAMES = {GroupKind.GROUP: "group", GroupKind.DIRECT: "dm"}


def _key_package(data: bytes) -> KeyPackage:
    try:
        body = MLSMessage.from_bytes(data).body
    except CoveError:
        body = None
    if not isinstance(body, KeyPackage):
        raise ClientError("the relay returned something that is not a KeyPackage")
    return body


class GroupOps:
    def __init__(
        self, ctx: Context, states: GroupStates, trust: Trust, outbox: Outbox, runner: SyncRunner
    ) -> None:
        self.ctx = ctx
        self.states = states
        self.trust = trust
        self.outbox = outbox
        self.runner = runner
        #: called with the group and the identity keys of who ``add`` added, after the
        #: commit (the newcomers feature greets them: welcome message, history)
        self.on_added: Callable[[bytes, list[bytes]], Awaitable[None]] | None = None

    # -- lookups ------------------------------------------------------------------------

    async def resolve(self, ref: str) -> bytes:
        """A group id from its hex id (or a unique prefix) or its unique name."""
        async with self.ctx.store.transaction() as txn:
            records = await self.states.all(txn)
        low = ref.lower()
        by_id = [r for r in records if ref and r.group_id.hex().startswith(low)]
        if len(by_id) == 1:
            return by_id[0].group_id
        by_name = [r for r in records if r.kind == GroupKind.GROUP and r.name == ref]
        if len(by_name) == 1:
            return by_name[0].group_id
        if len(by_id) + len(by_name) > 1:
            raise UsageProblem(f"'{ref}' names more than one group; use its id")
        raise UnknownGroup(f"no group '{ref}'")

    async def dm_group(self, handle: str) -> bytes | None:
        """The active private conversation with ``handle``, if there is one."""
        async with self.ctx.store.transaction() as txn:
            for r in await self.states.all(txn):
                if r.kind == GroupKind.DIRECT and r.peer == handle and r.active:
                    return r.group_id
        return None

    async def groups(self) -> list[GroupView]:
        async with self.ctx.store.transaction() as txn:
            records = await self.states.all(txn)
        return [
            GroupView(
                r.group_id,
                r.name,
                KIND_NAMES.get(GroupKind(r.kind), "group"),
                r.members if r.active else 0,
                r.epoch,
                r.active,
                r.peer,
                r.description,
                r.removed_by,
            )
            for r in records
        ]

    async def members(self, group_id: bytes) -> list[MemberView]:
        async with self.ctx.store.transaction() as txn:
            record, group = await self.states.load(txn, group_id)
            pins = {h: await self.trust.pin(txn, h) for h in handles(group)}
            self.states.keep(record, group)
        me = self.ctx.account.handle
        role_of = roles(group)
        out = []
        for m in group.members():
            ident = CoveIdentity.from_credential(m.credential)
            pin = pins.get(ident.handle)
            mine = ident.handle == me
            number = "" if mine else self.trust.safety_number(ident.handle, ident.identity_key)
            out.append(
                MemberView(
                    ident.handle,
                    m.leaf_index,
                    number,
                    bool(pin and pin.changed),
                    mine,
                    role_of.get(ident.handle, "member"),
                )
            )
        return out

    # -- operations ---------------------------------------------------------------------

    async def create(
        self, name: str, description: str = "", *, kind: GroupKind = GroupKind.GROUP, peer: str = ""
    ) -> bytes:
        try:
            meta = GroupMetadata(kind, name, description).validate()
        except CoveError as exc:
            raise UsageProblem(f"not a usable group name or description: {exc}") from None
        group_id = self.ctx.rng.random_bytes(16)
        a, now = self.ctx.account, self.ctx.clock.now()
        group = Group.create(
            SUITE, group_id, a.identity().credential(), self.ctx.rng,
            signature_private=a.device_private, extensions=initial_extensions(
                a.identity_key, meta.extension()
            ),
            capabilities=capabilities(), config=group_config(), now=now,
            credential_validator=validator,
        )  # fmt: skip
        await self.ctx.session.request("create_group", E.CreateGroupRequest(group_id=group_id))
        record = GroupRecord(group_id, kind=kind, peer=peer, last_update=now)
        async with self.ctx.store.transaction() as txn:
            await self.states.save(txn, record, group)
        return group_id

    async def _present(self, group_id: bytes) -> set[str]:
        async with self.ctx.store.transaction() as txn:
            record, group = await self.states.load(txn, group_id)
            self.states.keep(record, group)
        return set(handles(group))

    async def add(self, group_id: bytes, wanted: Sequence[str]) -> list[str]:
        """Claim each handle's KeyPackages (one per device) and commit the Adds.
        Returns the handles added; refuses if every one of them is already a member."""
        await self.runner.sync_group(group_id)
        present = await self._present(group_id)
        already = [h for h in wanted if h in present]
        todo_handles = list(dict.fromkeys(h for h in wanted if h not in present))
        if not todo_handles:
            names = ", ".join(already)
            raise UsageProblem(
                f"{names} {'is' if len(already) == 1 else 'are'} already in the group"
            )
        claimed: list[tuple[str, E.ClaimResponse]] = []
        for handle in todo_handles:
            try:
                claim = await self.ctx.session.call(
                    "claim_key_packages", E.ClaimRequest(handle=handle)
                )
            except RelayError as exc:
                if exc.code in (ErrorCode.NOT_FOUND, ErrorCode.NO_KEY_PACKAGE):
                    raise UnknownHandle(f"no member '{handle}' can be added: {exc.code}") from None
                raise client_error(exc) from None
            claimed.append((handle, claim))
        await self.trust.require_unchanged(keys=[(h, c.identity_key) for h, c in claimed])
        kps: list[KeyPackage] = []
        devices: list[bytes] = []
        for handle, claim in claimed:
            for item in claim.key_packages:
                kp = _key_package(item.key_package)
                ident = CoveIdentity.from_credential(kp.leaf_node.credential)
                if ident.handle != handle or ident.identity_key != claim.identity_key:
                    raise KeyChanged(f"the relay offered a KeyPackage that is not {handle}'s")
                kps.append(kp)
                devices.append(item.device_id)

        def make(group: Group) -> Made | None:
            require_policed(group)
            now_present = set(handles(group))
            todo = [
                kp for kp in kps
                if CoveIdentity.from_credential(kp.leaf_node.credential).handle not in now_present
            ]  # fmt: skip
            if not todo:
                return None
            try:
                out = group.add(todo, now=self.ctx.clock.now())
            except PolicyRefused as exc:  # e.g. a banned identity, or we may not add
                raise Refused(exc.decision) from None
            except ValidationError as exc:
                raise UnusableKeyPackage(
                    f"the relay offered an invitation key for {', '.join(todo_handles)} that "
                    f"cannot be used ({exc}); nobody was added"
                ) from None
            return Made(out, welcome_devices=tuple(devices))

        try:
            committed = await self.outbox.commit(group_id, make)
        except UnusableKeyPackage:
            async with self.ctx.store.transaction() as txn:
                record = await self.states.record(txn, group_id)
                await self.runner.integrity.report(
                    txn, group_id, "stale_key_package", record.name if record else "",
                    self.ctx.clock.now(), who=", ".join(todo_handles),
                )  # fmt: skip
            raise
        if committed:
            async with self.ctx.store.transaction() as txn:
                await self.runner.integrity.expect_join(
                    txn, group_id, todo_handles, self.ctx.clock.now()
                )
            if self.on_added is not None:
                await self.on_added(group_id, [c.identity_key for _, c in claimed])
        return todo_handles

    async def remove(self, group_id: bytes, handle: str) -> None:
        if handle not in await self._present(group_id):
            raise UnknownHandle(f"'{handle}' is not a member of this group")
        info = await self.ctx.session.request("get_group", path={"group_id": group_id.hex()})
        account_ids = tuple(bytes(m.account_id) for m in info.members if m.handle == handle)

        def make(group: Group) -> Made | None:
            leaves = [
                m.leaf_index for m in group.members()
                if CoveIdentity.from_credential(m.credential).handle == handle
            ]  # fmt: skip
            return (
                Made(group.remove(leaves, now=self.ctx.clock.now()), remove=account_ids)
                if leaves
                else None
            )

        await self.outbox.commit(group_id, make)

    async def set_role(self, group_id: bytes, handle: str, role: str) -> None:
        """Owner only: make a member a moderator (who may add, remove and ban) or back."""
        info = await self.ctx.session.request("get_group", path={"group_id": group_id.hex()})
        ids = [bytes(m.account_id) for m in info.members if m.handle == handle]
        if not ids:
            raise UnknownHandle(f"'{handle}' is not in this group")
        await self.ctx.session.request(
            "set_role",
            E.RoleRequest(account_id=ids[0], role=role),
            path={"group_id": group_id.hex()},
        )

    async def leave(self, group_id: bytes) -> None:
        """Propose our own removal, leave the relay's table, and forget the group's secrets."""
        async with self.ctx.store.transaction() as txn:
            record, group = await self.states.load(txn, group_id)
            self.states.keep(record, group)
        async with self.ctx.store.transaction() as txn:
            refused = await self.runner.integrity.is_refused(txn, group_id)
        if not refused:  # the relay serves the group: tell the others, then leave its table
            if group.active and len(group.members()) > 1:
                await self.outbox.post_handshake(group_id, lambda g: g.leave())
            await self.ctx.session.request("leave_group", path={"group_id": group_id.hex()})
        await self.runner.forget(group_id)

    async def update_keys(self, group_id: bytes) -> None:
        """A self-update commit: fresh keys on our whole path (post-compromise security)."""
        await self.outbox.commit(group_id, lambda g: Made(g.update(now=self.ctx.clock.now())))

    async def rename(self, group_id: bytes, name: str, description: str | None = None) -> None:
        """A new name (and description; None keeps the current one)."""

        def make(group: Group) -> Made:
            require_policed(group)
            meta = metadata(group)
            try:
                new = GroupMetadata(
                    meta.kind, name, meta.description if description is None else description
                ).validate()
            except CoveError as exc:
                raise UsageProblem(f"not a usable group name or description: {exc}") from None
            others = tuple(
                e for e in group.extensions if e.extension_type != GROUP_METADATA_EXTENSION
            )
            try:
                out = group.commit(
                    [Proposal(GroupContextExtensions((*others, new.extension())))],
                    now=self.ctx.clock.now(),
                )
            except PolicyRefused as exc:
                raise Refused(exc.decision) from None
            return Made(out)

        await self.outbox.commit(group_id, make)
