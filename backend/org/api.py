"""Regions, schools, communities and membership changes, scoped by the central policy."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from sqlalchemy.orm import selectinload

from backend.auth.policy import (
    Action,
    Resource,
    current_principal,
    get_scoped,
    requires,
    scoped_select,
)
from backend.db import db, delete_unless_referenced
from backend.errors import PermissionDenied
from backend.extensions import Blueprint
from backend.org import services
from backend.org.models import Community, CommunityMembership, MembershipChange, Region, School
from backend.org.schemas import (
    CommunityCreateArgs,
    CommunityPatchSchema,
    CommunityQueryArgs,
    CommunitySchema,
    DecisionArgs,
    MembershipChangeSchema,
    RegionPatchSchema,
    RegionSchema,
    SchoolPatchSchema,
    SchoolQueryArgs,
    SchoolSchema,
)
from backend.pagination import PageArgs, page_schema, paginate

regions_blp = Blueprint(
    "regions", __name__, url_prefix="/api/v1/regions", description="Region tree"
)
schools_blp = Blueprint(
    "schools", __name__, url_prefix="/api/v1/schools", description="Schools and their geofences"
)
communities_blp = Blueprint(
    "communities",
    __name__,
    url_prefix="/api/v1/communities",
    description="Education communities and their dated, approved membership (001 §7, §15)",
)
blueprints = [regions_blp, schools_blp, communities_blp]

RegionPage = page_schema(RegionSchema, "RegionPage")
SchoolPage = page_schema(SchoolSchema, "SchoolPage")
CommunityPage = page_schema(CommunitySchema, "CommunityPage")
MembershipChangePage = page_schema(MembershipChangeSchema, "MembershipChangePage")


@regions_blp.route("")
class Regions(MethodView):
    @requires(Resource.REGION, Action.READ)
    @regions_blp.arguments(PageArgs, location="query")
    @regions_blp.response(200, RegionPage)
    def get(self, page: dict[str, Any]) -> dict[str, Any]:
        """Your region and every region below it."""
        stmt = scoped_select(current_principal(), Resource.REGION, Action.READ)
        return paginate(db.session, stmt, Region.id, page)

    @requires(Resource.REGION, Action.WRITE)
    @regions_blp.arguments(RegionSchema)
    @regions_blp.response(201, RegionSchema)
    def post(self, data: dict[str, Any]) -> Region:
        """Add a region below one in your scope."""
        return services.create_region(db.session, principal=current_principal(), **data)


@regions_blp.route("/<uuid:region_id>")
class RegionById(MethodView):
    @requires(Resource.REGION, Action.READ)
    @regions_blp.response(200, RegionSchema)
    def get(self, region_id: uuid.UUID) -> Region:
        region: Region = get_scoped(
            db.session, current_principal(), Resource.REGION, Action.READ, region_id
        )
        return region

    @requires(Resource.REGION, Action.WRITE)
    @regions_blp.arguments(RegionPatchSchema)
    @regions_blp.response(200, RegionSchema)
    def patch(self, changes: dict[str, Any], region_id: uuid.UUID) -> Region:
        """Rename a region (its code and place in the tree are fixed)."""
        region: Region = get_scoped(
            db.session, current_principal(), Resource.REGION, Action.WRITE, region_id
        )
        region.name = changes["name"]
        db.session.flush()
        return region

    @requires(Resource.REGION, Action.WRITE)
    @regions_blp.response(204)
    def delete(self, region_id: uuid.UUID) -> None:
        """Remove a region created by mistake: only while nothing is in it (else 409)."""
        principal = current_principal()
        region: Region = get_scoped(db.session, principal, Resource.REGION, Action.WRITE, region_id)
        if region.id == principal.region_id:
            raise PermissionDenied("you cannot remove the region you administer")
        delete_unless_referenced(db.session, region, "region")


@schools_blp.route("")
class Schools(MethodView):
    @requires(Resource.SCHOOL, Action.READ)
    @schools_blp.arguments(SchoolQueryArgs, location="query")
    @schools_blp.arguments(PageArgs, location="query")
    @schools_blp.response(200, SchoolPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        """Schools you may see, filtered."""
        stmt = scoped_select(current_principal(), Resource.SCHOOL, Action.READ).options(
            selectinload(School.fence_points)
        )
        for name in ("region_id", "kind", "locality"):
            if name in query:
                stmt = stmt.where(getattr(School, name) == query[name])
        if "q" in query:
            stmt = stmt.where(School.name.contains(query["q"], autoescape=True))
        if "community_id" in query:
            stmt = stmt.where(
                School.id.in_(
                    sa.select(CommunityMembership.school_id).where(
                        CommunityMembership.community_id == query["community_id"],
                        CommunityMembership.left_on.is_(None),
                    )
                )
            )
        return paginate(db.session, stmt, School.id, page)

    @requires(Resource.SCHOOL, Action.WRITE)
    @schools_blp.arguments(SchoolSchema)
    @schools_blp.response(201, SchoolSchema)
    def post(self, data: dict[str, Any]) -> School:
        return services.create_school(db.session, data, current_principal())


@schools_blp.route("/<uuid:school_id>")
class SchoolById(MethodView):
    @requires(Resource.SCHOOL, Action.READ)
    @schools_blp.etag
    @schools_blp.response(200, SchoolSchema)
    def get(self, school_id: uuid.UUID) -> School:
        school: School = get_scoped(
            db.session, current_principal(), Resource.SCHOOL, Action.READ, school_id
        )
        return school

    @requires(Resource.SCHOOL, Action.WRITE)
    @schools_blp.etag
    @schools_blp.arguments(SchoolPatchSchema)
    @schools_blp.response(200, SchoolSchema)
    def patch(self, changes: dict[str, Any], school_id: uuid.UUID) -> School:
        """Change a school; send the ETag you read as If-Match (a 412 means it changed)."""
        school: School = get_scoped(
            db.session,
            current_principal(),
            Resource.SCHOOL,
            Action.WRITE,
            school_id,
            for_update=True,
        )
        schools_blp.check_etag(school, SchoolSchema)
        return services.update_school(db.session, school, changes)

    @requires(Resource.SCHOOL, Action.WRITE)
    @schools_blp.response(204)
    def delete(self, school_id: uuid.UUID) -> None:
        """Remove a school entered by mistake: only while nothing refers to it (else 409)."""
        principal = current_principal()
        if principal.role != "bureau_admin":
            raise PermissionDenied("only the bureau removes schools")
        school: School = get_scoped(db.session, principal, Resource.SCHOOL, Action.WRITE, school_id)
        delete_unless_referenced(db.session, school, "school")


@communities_blp.route("")
class Communities(MethodView):
    @requires(Resource.COMMUNITY, Action.READ)
    @communities_blp.arguments(CommunityQueryArgs, location="query")
    @communities_blp.arguments(PageArgs, location="query")
    @communities_blp.response(200, CommunityPage)
    def get(self, query: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
        stmt = scoped_select(current_principal(), Resource.COMMUNITY, Action.READ).options(
            selectinload(Community.memberships).selectinload(CommunityMembership.school)
        )
        for name in ("region_id", "mode"):
            if name in query:
                stmt = stmt.where(getattr(Community, name) == query[name])
        if "school_id" in query:
            stmt = stmt.where(
                Community.id.in_(
                    sa.select(CommunityMembership.community_id).where(
                        CommunityMembership.school_id == query["school_id"],
                        CommunityMembership.left_on.is_(None),
                    )
                )
            )
        return paginate(db.session, stmt, Community.id, page)

    @requires(Resource.COMMUNITY, Action.WRITE)
    @communities_blp.arguments(CommunityCreateArgs)
    @communities_blp.response(201, CommunitySchema)
    def post(self, data: dict[str, Any]) -> Community:
        """Set up a community; its core and first members join on term_start."""
        return services.create_community(db.session, data, current_principal())


@communities_blp.route("/<uuid:community_id>")
class CommunityById(MethodView):
    @requires(Resource.COMMUNITY, Action.READ)
    @communities_blp.etag
    @communities_blp.response(200, CommunitySchema)
    def get(self, community_id: uuid.UUID) -> Community:
        community: Community = get_scoped(
            db.session, current_principal(), Resource.COMMUNITY, Action.READ, community_id
        )
        return community

    @requires(Resource.COMMUNITY, Action.WRITE)
    @communities_blp.etag
    @communities_blp.arguments(CommunityPatchSchema)
    @communities_blp.response(200, CommunitySchema)
    def patch(self, changes: dict[str, Any], community_id: uuid.UUID) -> Community:
        """Rename, change mode or term end. Membership changes go through /membership-changes."""
        community: Community = get_scoped(
            db.session,
            current_principal(),
            Resource.COMMUNITY,
            Action.WRITE,
            community_id,
            for_update=True,
        )
        communities_blp.check_etag(community, CommunitySchema)
        return services.update_community(db.session, community, changes)


@communities_blp.route("/<uuid:community_id>/membership-changes")
class MembershipChanges(MethodView):
    @requires(Resource.MEMBERSHIP_CHANGE, Action.READ)
    @communities_blp.arguments(PageArgs, location="query")
    @communities_blp.response(200, MembershipChangePage)
    def get(self, page: dict[str, Any], community_id: uuid.UUID) -> dict[str, Any]:
        """The community's join and leave requests you may see, with their decisions."""
        principal = current_principal()
        services.community_for_change(db.session, principal, community_id)  # else 404
        stmt = scoped_select(principal, Resource.MEMBERSHIP_CHANGE, Action.READ).where(
            MembershipChange.community_id == community_id
        )
        return paginate(db.session, stmt, MembershipChange.id, page)

    @requires(Resource.MEMBERSHIP_CHANGE, Action.WRITE)
    @communities_blp.arguments(MembershipChangeSchema)
    @communities_blp.response(201, MembershipChangeSchema)
    def post(self, data: dict[str, Any], community_id: uuid.UUID) -> MembershipChange:
        """Ask for a school to join or leave; the bureau approves (001 §7, §15)."""
        principal = current_principal()
        community = services.community_for_change(db.session, principal, community_id)
        return services.request_change(db.session, principal, community, data)


@communities_blp.route("/membership-changes/<uuid:change_id>/approve")
class ApproveChange(MethodView):
    @requires(Resource.MEMBERSHIP_CHANGE, Action.APPROVE)
    @communities_blp.arguments(DecisionArgs)
    @communities_blp.response(200, MembershipChangeSchema)
    def post(self, data: dict[str, Any], change_id: uuid.UUID) -> MembershipChange:
        return services.decide_change(
            db.session, current_principal(), change_id, approve=True, note=data["note"]
        )


@communities_blp.route("/membership-changes/<uuid:change_id>/reject")
class RejectChange(MethodView):
    @requires(Resource.MEMBERSHIP_CHANGE, Action.APPROVE)
    @communities_blp.arguments(DecisionArgs)
    @communities_blp.response(200, MembershipChangeSchema)
    def post(self, data: dict[str, Any], change_id: uuid.UUID) -> MembershipChange:
        return services.decide_change(
            db.session, current_principal(), change_id, approve=False, note=data["note"]
        )
