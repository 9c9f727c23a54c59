"""003's rubric (附件2 西吉县义务教育一体化办学工作考核细则) as data: the rubric a region
uses until its bureau saves one of its own. Line numbers cite
``seeds/003_ffe768b2c1df406d.txt``; the choices where the text is silent are marked
"Reading:" and explained in docs/scoring.md. 100 points: 20 + 30 + 20 + 10 + 10 + 10.
"""

from __future__ import annotations

from typing import Any

DEFAULT_RUBRIC: dict[str, Any] = {
    "name": "西吉县义务教育一体化办学工作考核细则",
    "source": "003 附件2",
    "areas": [
        {
            # Line 156: 管理工作 (20分) … 每缺一项扣2分；信息报道超过2条的，每增加1条加1分，
            # 最多加2分。
            "key": "management",
            "name": "管理工作",
            "points": 20,
            "floor": 0,
            "criteria": [
                {
                    # 1. 每学期组织不少于一次的共同体学校共谋发展专题研讨. Reading: a term
                    # without one is one missing item (−2), so a year without any is −4.
                    "key": "development_seminar",
                    "name": "共谋发展专题研讨（每学期不少于1次）",
                    "rule": "missing_item",
                    "source": {"type": "evidence", "kinds": ["development_seminar"]},
                    "per": "term",
                    "minimum": 1,
                    "deduct_per_missing": 2,
                },
                {
                    # 2. 共同体学校联合开展各项工作的档案和活动记录 (no number: at least one).
                    "key": "joint_activity",
                    "name": "联合开展工作的档案和活动记录",
                    "rule": "missing_item",
                    "source": {"type": "evidence", "kinds": ["joint_activity"]},
                    "per": "year",
                    "minimum": 1,
                    "deduct_per_missing": 2,
                },
                {
                    # 3. 活动信息报道，每学期不少于2条; +1 per report beyond 2, at most +2.
                    # Reading: the extras are those beyond each term's 2.
                    "key": "news_report",
                    "name": "共同体学校活动信息报道（每学期不少于2条）",
                    "rule": "missing_item",
                    "source": {"type": "evidence", "kinds": ["news_report"]},
                    "per": "term",
                    "minimum": 2,
                    "deduct_per_missing": 2,
                    "bonus_per_extra": 1,
                    "bonus_cap": 2,
                },
                {
                    # 4. 同步课堂，每年不少于2门学科 (图片及课堂信息汇报表): only complete
                    # sessions (photos + form) count; subjects are distinct subjects.
                    "key": "sync_subjects",
                    "name": "同步课堂（每年不少于2门学科，有图片及课堂信息汇报表）",
                    "rule": "missing_item",
                    "source": {"type": "class_sessions", "distinct": "subject"},
                    "per": "year",
                    "minimum": 2,
                    "deduct_per_missing": 2,
                },
            ],
        },
        {
            # Line 157: 教研教改 (30分) … 同步课堂和网络研修每少1节(次)扣2分，每超过1节(次)
            # 加2分，最多加5分。无同步质量监测扣4分；有监测无分析扣2分。学科间无教学资料
            # 共享，每少一科扣1分。 Minimums from §四(四) lines 67–70.
            "key": "teaching_research",
            "name": "教研教改",
            "points": 30,
            "floor": 0,
            "bonus_pools": [
                {
                    # "最多加5分" is one cap for sync classes and online research together.
                    "key": "sessions",
                    "name": "同步课堂和网络研修",
                    "cap": 5,
                    "criteria": ["sync_sessions", "research_online"],
                }
            ],
            "criteria": [
                {
                    # Line 67: 同步课堂…每年…累计不少于16节.
                    "key": "sync_sessions",
                    "name": "同步课堂（每年累计不少于16节）",
                    "rule": "per_unit",
                    "source": {"type": "class_sessions"},
                    "per": "year",
                    "minimum": 16,
                    "deduct_per_missing": 2,
                    "bonus_per_extra": 2,
                },
                {
                    # Line 68: 每学年教师网络研修不少于8次.
                    "key": "research_online",
                    "name": "网络研修（每学年不少于8次）",
                    "rule": "per_unit",
                    "source": {"type": "evidence", "kinds": ["research_online"]},
                    "per": "year",
                    "minimum": 8,
                    "deduct_per_missing": 2,
                    "bonus_per_extra": 2,
                },
                {
                    # Line 68: 线下教研不少于4次. Reading: the rule's "每少1次扣2分" is read
                    # to cover it (same content item 2); its bonus names only 网络研修.
                    "key": "research_offline",
                    "name": "线下教研（每学年不少于4次）",
                    "rule": "per_unit",
                    "source": {"type": "evidence", "kinds": ["research_offline"]},
                    "per": "year",
                    "minimum": 4,
                    "deduct_per_missing": 2,
                },
                {
                    # Line 70 / 157 item 3: each term a monitoring, with its analysis.
                    "key": "quality_monitoring",
                    "name": "同步教学质量监测及质量分析（每学期）",
                    "rule": "tiers",
                    "source": {"type": "quality_monitoring"},
                    "per": "term",
                    "tiers": [
                        {
                            "measure": "monitoring",
                            "below": 1,
                            "deduct": 4,
                            "name": "无同步质量监测",
                        },
                        {"measure": "analysed", "below": 1, "deduct": 2, "name": "有监测无分析"},
                    ],
                },
                {
                    # Item 4: 教学资料共享, −1 per subject without. Reading: the subjects are
                    # those of the year's counted sync class sessions.
                    "key": "teaching_materials",
                    "name": "教学资料共享（同步课堂各学科）",
                    "rule": "per_unit",
                    "source": {
                        "type": "evidence",
                        "kinds": ["teaching_materials"],
                        "group_by": "sync_subject",
                    },
                    "per": "year",
                    "minimum": 1,
                    "deduct_per_missing": 1,
                },
            ],
        },
        {
            # Line 158: 交流培训 (20分) … 无师徒结对扣3分，每对师徒间研讨活动每少一次扣0.5分。
            # 无选派骨干教师任教或安排青年教师挂职学习各扣3分。 Line 69: 每学期不少于3次.
            "key": "exchange",
            "name": "交流培训",
            "points": 20,
            "floor": 0,
            "criteria": [
                {
                    "key": "mentor_pairs",
                    "name": "师徒结对",
                    "rule": "missing_item",
                    "source": {"type": "evidence", "kinds": ["mentor_pair"]},
                    "per": "year",
                    "minimum": 1,
                    "deduct_per_missing": 3,
                },
                {
                    "key": "mentor_sessions",
                    "name": "师徒听课研讨（每对每学期不少于3次）",
                    "rule": "per_unit",
                    "source": {
                        "type": "evidence",
                        "kinds": ["mentor_session"],
                        "group_by": "mentor_pair",
                    },
                    "per": "term",
                    "minimum": 3,
                    "deduct_per_missing": 0.5,
                },
                {
                    # Derived, never filed: a secondment from the core school to a member
                    # school during the year (§四(三)1: 城区…选派…到乡镇对口学校).
                    "key": "backbone_teachers",
                    "name": "选派骨干教师到成员校任教",
                    "rule": "missing_item",
                    "source": {"type": "secondments", "from": "core", "to": "member"},
                    "per": "year",
                    "minimum": 1,
                    "deduct_per_missing": 3,
                },
                {
                    # Derived: a member school's teacher posted to the core school to
                    # learn (跟岗, kind "shadowing"; §四(三)1: 乡镇…青年教师到城区学校交流学习).
                    "key": "young_teachers",
                    "name": "安排青年教师挂职学习",
                    "rule": "missing_item",
                    "source": {
                        "type": "secondments",
                        "from": "member",
                        "to": "core",
                        "kinds": ["shadowing"],
                    },
                    "per": "year",
                    "minimum": 1,
                    "deduct_per_missing": 3,
                },
            ],
        },
        {
            # Line 159: 教育科研 (10分) 无联合或合作课题扣5分，超过1项的，每增加一项加5分，
            # 至多加5分。 Line 71: 至少有一项联合或合作研究课题.
            "key": "research",
            "name": "教育科研",
            "points": 10,
            "floor": 0,
            "criteria": [
                {
                    "key": "research_project",
                    "name": "联合或合作研究课题（至少1项）",
                    "rule": "missing_item",
                    "source": {"type": "evidence", "kinds": ["research_project"]},
                    "per": "year",
                    "minimum": 1,
                    "deduct_per_missing": 5,
                    "bonus_per_extra": 5,
                    "bonus_cap": 5,
                },
            ],
        },
        {
            # Line 160: 学生互动 (10分) 无班级结对、未开展学生之间的体育、艺术等交流活动的
            # 不得分 (else the full 10).
            "key": "student_interaction",
            "name": "学生互动",
            "points": 10,
            "floor": 0,
            "criteria": [
                {
                    "key": "student_exchange",
                    "name": "班级结对、体艺交流、学科竞赛等学生交流活动",
                    "rule": "gate",
                    "source": {"type": "evidence", "kinds": ["student_exchange"]},
                    "per": "year",
                    "minimum": 1,
                },
            ],
        },
        {
            # Line 161: 工作成效 (10分) 根据实际成效得分；能提供典型案例的，给予加分。
            "key": "outcomes",
            "name": "工作成效",
            "points": 10,
            "floor": 0,
            "criteria": [
                {
                    "key": "outcomes",
                    "name": "学校管理、教师专业水平、学生学业成绩等方面的进步（评审给分）",
                    "rule": "manual",
                    "manual": {"mode": "score", "max_points": 10},
                },
                {
                    # Reading: the text names no amount; at most 5, the largest bonus cap
                    # elsewhere in the rubric, and only with a verified typical case.
                    "key": "typical_cases",
                    "name": "典型案例（评审加分）",
                    "rule": "manual",
                    "source": {"type": "evidence", "kinds": ["typical_case"]},
                    "per": "year",
                    "minimum": 1,
                    "manual": {"mode": "bonus", "max_points": 5},
                },
            ],
        },
    ],
}
