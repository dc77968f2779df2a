"""The front desk (前台): 挂号, 顾客管理, 操作台 and the customer's detail with its small forms.

Every service call goes through ``ui/operations/front_desk.py``; pages and dialogs refresh themselves
from ``bus().changed``.
"""
