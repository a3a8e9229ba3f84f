"""LRN-08 / UX-02 (issue 27 item 20): the desk (首页) counts the complaints waiting for the viewer, within its scope:
regulators those about the units of their region, unit admins those assigned to them, operators all."""

from __future__ import annotations

import re

from safetrain.regulator.complaints import complaint_answer, complaint_assign, complaint_submit
from safetrain.regulator.desk import complaints_to_handle


def complaint(world, about):
    return complaint_submit(
        kind="complaint",
        title="视频播放卡顿",
        text="学习视频经常卡住，无法继续学习。",
        about=about,
        submitter=world.learner_futian,
    )


def test_lrn_08_the_desk_counts_the_complaints_each_handler_has_to_handle(world, web_client):
    futian = complaint(world, world.ent_futian)
    complaint(world, world.ent_futian)
    assert complaints_to_handle(world.operator) == 2
    assert complaints_to_handle(world.regulator_futian) == 2
    assert complaints_to_handle(world.regulator_nanshan) == 0  # another district's units
    assert complaints_to_handle(world.admin_futian) == 0  # not assigned to them yet
    assert complaints_to_handle(world.learner_futian) is None  # not a handler: no such to-do
    complaint_assign(complaint=futian, assignee=world.admin_futian, actor=world.operator)
    assert complaints_to_handle(world.admin_futian) == 1
    complaint_answer(
        complaint=futian, response="已联系技术人员处理，请刷新后重试。", actor=world.admin_futian
    )
    assert complaints_to_handle(world.admin_futian) == 0
    assert complaints_to_handle(world.operator) == 1
    html = web_client(world.regulator_futian).get("/").content.decode()
    assert re.search(
        r'data-testid="todo-complaints"><a href="/feedback/manage/"><strong data-count="1">1</strong>', html
    )
