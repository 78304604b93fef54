"""One transaction's worth of repositories, all sharing one `AsyncSession`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories.answers import AnswerRepository
from storage.repositories.audit import AuditRepository
from storage.repositories.broadcasts import BroadcastRepository
from storage.repositories.checkin_results import CheckinResultRepository
from storage.repositories.conversations import ConversationRepository
from storage.repositories.early_statuses import EarlyStatusRepository
from storage.repositories.evidence import EvidenceRepository
from storage.repositories.exports import ExportRepository, StreamingExportRepository
from storage.repositories.group_chats import GroupChatRepository
from storage.repositories.groups import GroupRepository
from storage.repositories.help import HelpRepository
from storage.repositories.highlights import HighlightRepository
from storage.repositories.inbox import InboxRepository
from storage.repositories.member_data import MemberDataRepository
from storage.repositories.members import MemberRepository
from storage.repositories.messages import MessageRepository
from storage.repositories.schedules import ScheduleRepository
from storage.repositories.sessions import SessionRepository
from storage.repositories.sign_in import SignInRepository
from storage.repositories.staff import StaffRepository
from storage.repositories.stories import StoryRepository
from storage.repositories.whatsapp_contents import WhatsappContentRepository


class UnitOfWork:
    """The repositories of one transaction (see `Database.transaction`).

    Everything written through them commits or rolls back together. Do not keep a unit of work
    past its `async with` block: its session is closed there.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.groups = GroupRepository(session)
        self.members = MemberRepository(session)
        self.sessions = SessionRepository(session)
        self.answers = AnswerRepository(session)
        self.checkin_results = CheckinResultRepository(session)
        self.help = HelpRepository(session)
        self.messages = MessageRepository(session)
        self.stories = StoryRepository(session)
        self.exports = ExportRepository(session)
        self.evidence = EvidenceRepository(session)
        self.streams = StreamingExportRepository(session)
        self.inbox = InboxRepository(session)
        self.early_statuses = EarlyStatusRepository(session)
        self.group_chats = GroupChatRepository(session)
        self.broadcasts = BroadcastRepository(session)
        self.highlights = HighlightRepository(session)
        self.staff = StaffRepository(session)
        self.schedules = ScheduleRepository(session)
        self.whatsapp_contents = WhatsappContentRepository(session)
        self.conversations = ConversationRepository(session)
        self.sign_in = SignInRepository(session)
        self.audit = AuditRepository(session)
        self.member_data = MemberDataRepository(session)
