from safetrain.catalog.models.courses import (
    Chapter,
    ConstructionCategory,
    Course,
    CourseMaterial,
    CourseQuestion,
    CourseRating,
    CourseStatus,
    LegalBasis,
    LegalBasisKind,
    Lesson,
    LessonKind,
    Teacher,
    add_months,
)
from safetrain.catalog.models.programmes import (
    Audience,
    DeadlineKind,
    OfflineAttendance,
    OfflinePhoto,
    OfflineSession,
    Programme,
    ProgrammeCourse,
    ProgrammeKind,
    RegionProfile,
)
from safetrain.catalog.models.qualifications import (
    JobCodeMapping,
    JobType,
    QualificationCategory,
    QualificationItem,
    QualificationKind,
)
from safetrain.catalog.models.videos import Video, VideoStatus

__all__ = [
    "Audience", "Chapter", "ConstructionCategory", "Course", "CourseMaterial", "CourseQuestion", "CourseRating",
    "CourseStatus", "DeadlineKind", "JobCodeMapping", "JobType", "LegalBasis", "LegalBasisKind", "Lesson",
    "LessonKind", "OfflineAttendance", "OfflinePhoto", "OfflineSession", "Programme", "ProgrammeCourse",
    "ProgrammeKind", "QualificationCategory", "QualificationItem", "QualificationKind", "RegionProfile", "Teacher",
    "Video", "VideoStatus", "add_months",
]
